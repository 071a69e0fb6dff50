// Translation quality: corpus-level BLEU-4 and chrF, computed from sums that add over
// batches and data-parallel ranks, plus exact-match accuracy.
//
// BLEU (Papineni et al. 2002) as sacrebleu computes it by default, except that smoothing is
// off unless asked for:
//   - tokenize_13a() is sacrebleu's tokenizer_13a (mteval-v13a): <skipped> removed, the four
//     XML entities unescaped, ASCII punctuation and symbols split off, '.' and ',' split
//     unless between digits, '-' split after a digit; then Python's str.split().
//   - per sentence: clipped n-gram matches and hypothesis n-grams for n = 1..4 (clipped by
//     the largest count in any reference), the hypothesis length and the length of the
//     reference closest to it (the shorter one on a tie).
//   - score = BP * exp(mean over n of log(matches_n / totals_n)), BP = 1 when the
//     hypotheses are longer than the references in total, exp(1 - ref/hyp) otherwise, and 0
//     for no hypothesis tokens. A zero count of matches for some n gives 0 without smoothing;
//     `floor` uses floor_value / totals_n there, `exp` 1 / (2^k totals_n) for the k-th such n
//     (sacrebleu's floor and exp, NLTK's method1 and method3). An order with no hypothesis
//     n-gram at all (every hypothesis shorter than n) gives 0 whatever the smoothing: NLTK
//     instead counts 1 per such sentence (max(1, count)), so the two agree when every
//     hypothesis has at least 4 tokens.
// chrF (Popovic 2015) with sacrebleu's CHRF defaults: character n-grams (code points, all
// whitespace removed) of orders 1..6, beta 2, precision and recall averaged over the orders
// that have n-grams on both sides, F_beta of the averages; one reference per hypothesis.
//
// Scores are fractions in [0, 1] (sacrebleu prints 100 times these). Statistics are plain
// integer sums: add them across batches with +=, across ranks by all-reducing to_vector()
// (doubles hold the counts exactly below 2^53) and from_vector().
// Pure functions; thread safe. from_vector throws std::invalid_argument for a wrong size.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace rnnlab::trainer {

std::vector<std::string> tokenize_13a(const std::string& line);

// N integer counts that add element-wise.
template <size_t N>
struct CountSums {
  static constexpr size_t kSize = N;
  std::array<int64_t, N> counts{};

  CountSums& operator+=(const CountSums& other) {
    for (size_t i = 0; i < N; ++i) counts[i] += other.counts[i];
    return *this;
  }
  std::vector<double> to_vector() const { return std::vector<double>(counts.begin(), counts.end()); }
  void assign(const std::vector<double>& values, const char* what);  // the inverse of to_vector
};

constexpr int kBleuOrder = 4;

// counts: matches for n = 1..4, totals for n = 1..4, hypothesis length, reference length.
struct BleuStats : CountSums<2 * kBleuOrder + 2> {
  int64_t& matches(int n) { return counts[size_t(n - 1)]; }
  int64_t matches(int n) const { return counts[size_t(n - 1)]; }
  int64_t& totals(int n) { return counts[size_t(kBleuOrder + n - 1)]; }
  int64_t totals(int n) const { return counts[size_t(kBleuOrder + n - 1)]; }
  int64_t& hypothesis_length() { return counts[2 * kBleuOrder]; }
  int64_t hypothesis_length() const { return counts[2 * kBleuOrder]; }
  int64_t& reference_length() { return counts[2 * kBleuOrder + 1]; }
  int64_t reference_length() const { return counts[2 * kBleuOrder + 1]; }
  static BleuStats from_vector(const std::vector<double>& values);
};

// One sentence's statistics from tokens (already tokenized) and at least one reference.
BleuStats bleu_statistics(const std::vector<std::string>& hypothesis,
                          const std::vector<std::vector<std::string>>& references);
// The same on raw text, tokenized with tokenize_13a().
BleuStats bleu_statistics_13a(const std::string& hypothesis, const std::vector<std::string>& references);

enum class BleuSmoothing { none, floor, exp };

struct BleuOptions {
  BleuSmoothing smoothing = BleuSmoothing::none;
  double floor_value = 0.1;  // BleuSmoothing::floor's numerator for a zero count
};

struct BleuScore {
  double bleu = 0;
  double brevity_penalty = 0;
  std::array<double, kBleuOrder> precisions{};  // after smoothing
  double length_ratio = 0;                      // hypothesis / reference length
};

BleuScore bleu_score(const BleuStats& stats, const BleuOptions& options = {});
// Corpus BLEU of raw text: hypotheses[i] against references[i] (one each), 13a tokens.
BleuScore corpus_bleu_13a(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references,
                          const BleuOptions& options = {});

constexpr int kChrfOrder = 6;
constexpr double kChrfBeta = 2.0;

// counts: hypothesis n-grams for n = 1..6, reference n-grams, matches.
struct ChrfStats : CountSums<3 * kChrfOrder> {
  int64_t hypothesis(int n) const { return counts[size_t(n - 1)]; }
  int64_t reference(int n) const { return counts[size_t(kChrfOrder + n - 1)]; }
  int64_t matches(int n) const { return counts[size_t(2 * kChrfOrder + n - 1)]; }
  static ChrfStats from_vector(const std::vector<double>& values);
};

ChrfStats chrf_statistics(const std::string& hypothesis, const std::string& reference);
double chrf_score(const ChrfStats& stats, double beta = kChrfBeta);
double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);

// Fraction of hypotheses equal to their reference token for token (the generated tasks'
// accuracy); 0 for no pairs; std::invalid_argument when the counts differ.
double exact_match(const std::vector<std::vector<int32_t>>& hypotheses,
                   const std::vector<std::vector<int32_t>>& references);

}  // namespace rnnlab::trainer
