#include "trainer/translation_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <stdexcept>

#include "trainer/data/utf8.h"

namespace rnnlab::trainer {
namespace {

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  size_t at = 0;
  while ((at = text.find(from, at)) != std::string::npos) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_period_or_comma(char c) { return c == '.' || c == ','; }

// tokenizer_13a's first rule: [{-~[-` -&(-+:-@/] gets a space on either side.
bool is_13a_symbol(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x7B && u <= 0x7E) || (u >= 0x5B && u <= 0x60) || (u >= 0x20 && u <= 0x26) ||
         (u >= 0x28 && u <= 0x2B) || (u >= 0x3A && u <= 0x40) || u == '/';
}

// Python's re.sub for a two-character pattern (first, second) -> replacement built from the
// two matched characters: leftmost matches, never overlapping. Working on bytes gives what
// Python gives on code points because every class that is tested is ASCII.
template <typename First, typename Second, typename Replace>
std::string substitute_pairs(const std::string& text, First first, Second second, Replace replace) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  size_t i = 0;
  while (i < text.size()) {
    if (i + 1 < text.size() && first(text[i]) && second(text[i + 1])) {
      out += replace(text[i], text[i + 1]);
      i += 2;
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::vector<std::string> split_python_whitespace(const std::string& text) {
  std::vector<std::string> tokens;
  std::string token;
  for (char32_t c : data::decode_utf8(text)) {
    if (data::is_space(c)) {
      if (!token.empty()) tokens.push_back(std::move(token));
      token.clear();
    } else {
      data::append_utf8(c, token);
    }
  }
  if (!token.empty()) tokens.push_back(std::move(token));
  return tokens;
}

template <typename Sequence>
std::map<Sequence, int64_t> ngram_counts(const Sequence& items, size_t n) {
  std::map<Sequence, int64_t> counts;
  for (size_t i = 0; i + n <= items.size(); ++i) counts[Sequence(items.begin() + long(i), items.begin() + long(i + n))]++;
  return counts;
}

void check_pairs(const char* metric, size_t hypotheses, size_t references) {
  if (hypotheses != references) {
    throw std::invalid_argument(std::string(metric) + ": " + std::to_string(hypotheses) + " hypotheses but " +
                                std::to_string(references) + " references");
  }
}

int64_t total(const std::map<std::u32string, int64_t>& counts) {
  int64_t sum = 0;
  for (const auto& entry : counts) sum += entry.second;
  return sum;
}

}  // namespace

template <size_t N>
void CountSums<N>::assign(const std::vector<double>& values, const char* what) {
  if (values.size() != N) {
    throw std::invalid_argument(std::string(what) + ": expected " + std::to_string(N) + " sums, got " +
                                std::to_string(values.size()));
  }
  for (size_t i = 0; i < N; ++i) counts[i] = int64_t(std::llround(values[i]));
}

std::vector<std::string> tokenize_13a(const std::string& raw) {
  std::string line = raw;
  replace_all(line, "<skipped>", "");
  replace_all(line, "-\n", "");
  replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  std::string spaced = " ";
  for (char c : line) {
    if (is_13a_symbol(c)) {
      spaced += ' ';
      spaced += c;
      spaced += ' ';
    } else {
      spaced += c;
    }
  }
  spaced += ' ';
  const auto not_digit = [](char c) { return !is_digit(c); };
  spaced = substitute_pairs(spaced, not_digit, is_period_or_comma,
                            [](char a, char b) { return std::string{a, ' ', b, ' '}; });
  spaced = substitute_pairs(spaced, is_period_or_comma, not_digit,
                            [](char a, char b) { return std::string{' ', a, ' ', b}; });
  spaced = substitute_pairs(spaced, is_digit, [](char c) { return c == '-'; },
                            [](char a, char b) { return std::string{a, ' ', b, ' '}; });
  return split_python_whitespace(spaced);
}

BleuStats BleuStats::from_vector(const std::vector<double>& values) {
  BleuStats stats;
  stats.assign(values, "BLEU statistics");
  return stats;
}

ChrfStats ChrfStats::from_vector(const std::vector<double>& values) {
  ChrfStats stats;
  stats.assign(values, "chrF statistics");
  return stats;
}

BleuStats bleu_statistics(const std::vector<std::string>& hypothesis,
                          const std::vector<std::vector<std::string>>& references) {
  if (references.empty()) throw std::invalid_argument("BLEU: a hypothesis needs at least one reference");
  BleuStats stats;
  const auto hypothesis_length = int64_t(hypothesis.size());
  int64_t closest = int64_t(references[0].size());
  for (const auto& reference : references) {
    const auto length = int64_t(reference.size());
    const int64_t distance = std::llabs(length - hypothesis_length);
    const int64_t best = std::llabs(closest - hypothesis_length);
    if (distance < best || (distance == best && length < closest)) closest = length;
  }
  stats.hypothesis_length() = hypothesis_length;
  stats.reference_length() = closest;
  for (int n = 1; n <= kBleuOrder; ++n) {
    std::map<std::vector<std::string>, int64_t> most;  // largest count of each n-gram in one reference
    for (const auto& reference : references) {
      for (const auto& [gram, count] : ngram_counts(reference, size_t(n))) most[gram] = std::max(most[gram], count);
    }
    for (const auto& [gram, count] : ngram_counts(hypothesis, size_t(n))) {
      stats.totals(n) += count;
      const auto found = most.find(gram);
      if (found != most.end()) stats.matches(n) += std::min(count, found->second);
    }
  }
  return stats;
}

BleuStats bleu_statistics_13a(const std::string& hypothesis, const std::vector<std::string>& references) {
  std::vector<std::vector<std::string>> reference_tokens;
  reference_tokens.reserve(references.size());
  for (const std::string& reference : references) reference_tokens.push_back(tokenize_13a(reference));
  return bleu_statistics(tokenize_13a(hypothesis), reference_tokens);
}

BleuScore bleu_score(const BleuStats& stats, const BleuOptions& options) {
  BleuScore score;
  const auto hypothesis = double(stats.hypothesis_length());
  const auto reference = double(stats.reference_length());
  score.length_ratio = reference > 0 ? hypothesis / reference : 0.0;
  if (stats.hypothesis_length() == 0) return score;
  score.brevity_penalty = hypothesis > reference ? 1.0 : std::exp(1.0 - reference / hypothesis);
  double log_sum = 0;
  bool zero = false;
  double halving = 1.0;  // BleuSmoothing::exp: 2^k for the k-th order without a match
  for (int n = 1; n <= kBleuOrder; ++n) {
    const auto totals = double(stats.totals(n));
    double precision = totals > 0 ? double(stats.matches(n)) / totals : 0.0;
    if (totals > 0 && stats.matches(n) == 0) {
      if (options.smoothing == BleuSmoothing::floor) precision = options.floor_value / totals;
      if (options.smoothing == BleuSmoothing::exp) {
        halving *= 2;
        precision = 1.0 / (halving * totals);
      }
    }
    score.precisions[size_t(n - 1)] = precision;
    if (precision <= 0) {
      zero = true;
    } else {
      log_sum += std::log(precision);
    }
  }
  score.bleu = zero ? 0.0 : score.brevity_penalty * std::exp(log_sum / kBleuOrder);
  return score;
}

BleuScore corpus_bleu_13a(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references,
                          const BleuOptions& options) {
  check_pairs("BLEU", hypotheses.size(), references.size());
  BleuStats stats;
  for (size_t i = 0; i < hypotheses.size(); ++i) stats += bleu_statistics_13a(hypotheses[i], {references[i]});
  return bleu_score(stats, options);
}

ChrfStats chrf_statistics(const std::string& hypothesis, const std::string& reference) {
  const auto characters = [](const std::string& text) {
    std::u32string kept;
    for (char32_t c : data::decode_utf8(text)) {
      if (!data::is_space(c)) kept += c;
    }
    return kept;
  };
  const std::u32string hyp = characters(hypothesis);
  const std::u32string ref = characters(reference);
  ChrfStats stats;
  for (int n = 1; n <= kChrfOrder; ++n) {
    const auto hyp_counts = ngram_counts(hyp, size_t(n));
    const auto ref_counts = ngram_counts(ref, size_t(n));
    int64_t matches = 0;
    for (const auto& [gram, count] : hyp_counts) {
      const auto found = ref_counts.find(gram);
      if (found != ref_counts.end()) matches += std::min(count, found->second);
    }
    stats.counts[size_t(n - 1)] = total(hyp_counts);
    stats.counts[size_t(kChrfOrder + n - 1)] = total(ref_counts);
    stats.counts[size_t(2 * kChrfOrder + n - 1)] = matches;
  }
  return stats;
}

double chrf_score(const ChrfStats& stats, double beta) {
  double precision = 0, recall = 0;
  int orders = 0;
  for (int n = 1; n <= kChrfOrder; ++n) {
    if (stats.hypothesis(n) > 0 && stats.reference(n) > 0) {
      precision += double(stats.matches(n)) / double(stats.hypothesis(n));
      recall += double(stats.matches(n)) / double(stats.reference(n));
      ++orders;
    }
  }
  if (orders == 0) return 0.0;
  precision /= orders;
  recall /= orders;
  if (precision + recall == 0) return 0.0;
  const double factor = beta * beta;
  return (1 + factor) * precision * recall / (factor * precision + recall);
}

double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  check_pairs("chrF", hypotheses.size(), references.size());
  ChrfStats stats;
  for (size_t i = 0; i < hypotheses.size(); ++i) stats += chrf_statistics(hypotheses[i], references[i]);
  return chrf_score(stats);
}

double exact_match(const std::vector<std::vector<int32_t>>& hypotheses,
                   const std::vector<std::vector<int32_t>>& references) {
  check_pairs("exact match", hypotheses.size(), references.size());
  if (hypotheses.empty()) return 0.0;
  size_t equal = 0;
  for (size_t i = 0; i < hypotheses.size(); ++i) equal += hypotheses[i] == references[i] ? 1 : 0;
  return double(equal) / double(hypotheses.size());
}

template struct CountSums<BleuStats::kSize>;
template struct CountSums<ChrfStats::kSize>;

}  // namespace rnnlab::trainer
