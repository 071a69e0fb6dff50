#include "trainer/beam_search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace rnnlab::trainer {
namespace {

constexpr double kDead = -std::numeric_limits<double>::infinity();

void check_options(const BeamSearchOptions& options) {
  if (options.beam_size < 1) throw std::invalid_argument("beam search: beam_size must be >= 1");
  if (options.vocab_size < 1) throw std::invalid_argument("beam search: vocab_size must be >= 1");
  const auto outside = [&](int32_t id) { return id < 0 || id >= options.vocab_size; };
  if (outside(options.bos_id) || outside(options.eos_id)) {
    throw std::invalid_argument("beam search: bos_id " + std::to_string(options.bos_id) + " / eos_id " +
                                std::to_string(options.eos_id) + " outside the vocabulary [0, " +
                                std::to_string(options.vocab_size) + ")");
  }
  if (!(options.max_length_ratio > 0)) throw std::invalid_argument("beam search: max_length_ratio must be > 0");
}

// The alive beams of every sentence: K rows each, a dead row has score kDead.
struct Beams {
  std::vector<double> scores;                 // [B * K] accumulated log-probability
  std::vector<std::vector<int32_t>> history;  // [B * K] tokens so far
  std::vector<int32_t> tokens;                // [B * K] what the next call feeds
  std::vector<int32_t> parents;               // [B * K] the rows they continue
};

// `rows` dead rows feeding `token`, each continuing its own row.
Beams empty_beams(size_t rows, int32_t token) {
  Beams beams{std::vector<double>(rows, kDead), std::vector<std::vector<int32_t>>(rows),
              std::vector<int32_t>(rows, token), std::vector<int32_t>(rows)};
  for (size_t row = 0; row < rows; ++row) beams.parents[row] = int32_t(row);
  return beams;
}

struct Candidate {
  double score;
  int64_t index;  // k * V + v within the sentence
};

// The best `count` candidates of sentence b's alive beams, best first; only eos_id when
// the sentence is at its length bound.
std::vector<Candidate> best_candidates(const Beams& beams, const std::vector<float>& log_probs, size_t b,
                                       bool eos_only, size_t count, const BeamSearchOptions& options) {
  const size_t K = size_t(options.beam_size), V = size_t(options.vocab_size);
  std::vector<Candidate> candidates;
  candidates.reserve(eos_only ? K : K * V);
  for (size_t k = 0; k < K; ++k) {
    const size_t row = b * K + k;
    if (beams.scores[row] == kDead) continue;
    const float* row_log_probs = log_probs.data() + row * V;
    for (size_t v = eos_only ? size_t(options.eos_id) : 0; v < V; ++v) {
      candidates.push_back({beams.scores[row] + double(row_log_probs[v]), int64_t(k * V + v)});
      if (eos_only) break;
    }
  }
  const auto better = [](const Candidate& a, const Candidate& c) {
    return a.score > c.score || (a.score == c.score && a.index < c.index);
  };
  const size_t keep = std::min(count, candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + long(keep), candidates.end(), better);
  candidates.resize(keep);
  return candidates;
}

}  // namespace

int max_output_length(int source_length, const BeamSearchOptions& options) {
  const double bound = std::ceil(options.max_length_ratio * double(source_length)) + options.max_length_offset;
  return std::max(1, int(std::min(bound, 1e9)));
}

double length_penalty(int tokens_with_eos, const BeamSearchOptions& options) {
  switch (options.length_normalization) {
    case LengthNormalization::none: return 1.0;
    case LengthNormalization::gnmt: return std::pow((5.0 + tokens_with_eos) / 6.0, options.alpha);
    case LengthNormalization::average: return double(tokens_with_eos);
  }
  return 1.0;
}

std::vector<std::vector<Hypothesis>> beam_search(const std::vector<int>& source_lengths,
                                                 const BeamSearchOptions& options, const BeamStep& step) {
  check_options(options);
  const size_t B = source_lengths.size(), K = size_t(options.beam_size), V = size_t(options.vocab_size);
  std::vector<std::vector<Hypothesis>> finished(B);
  std::vector<bool> done(B, false);
  std::vector<int> bound(B);
  for (size_t b = 0; b < B; ++b) bound[b] = max_output_length(source_lengths[b], options);

  Beams beams = empty_beams(B * K, options.bos_id);
  for (size_t b = 0; b < B; ++b) {
    beams.scores[b * K] = 0.0;  // one live beam per sentence at the start
    for (size_t k = 0; k < K; ++k) beams.parents[b * K + k] = int32_t(b);
  }
  std::vector<float> log_probs;
  size_t remaining = B;
  for (int t = 0; remaining > 0; ++t) {
    log_probs.clear();
    step(t, beams.tokens, beams.parents, log_probs);
    if (log_probs.size() != B * K * V) {
      throw std::invalid_argument("beam search: the step callback gave " + std::to_string(log_probs.size()) +
                                  " log-probabilities at step " + std::to_string(t) + ", expected " +
                                  std::to_string(B * K) + " rows x " + std::to_string(V));
    }
    Beams next = empty_beams(B * K, options.eos_id);
    for (size_t b = 0; b < B; ++b) {
      if (done[b]) continue;
      const std::vector<Candidate> candidates = best_candidates(beams, log_probs, b, t >= bound[b], 2 * K, options);
      size_t alive = 0;
      for (size_t rank = 0; rank < candidates.size() && alive < K; ++rank) {
        const size_t k = size_t(candidates[rank].index) / V;
        const auto token = int32_t(size_t(candidates[rank].index) % V);
        const size_t parent = b * K + k;
        if (token == options.eos_id) {
          if (rank < K && finished[b].size() < K) {
            const double score = candidates[rank].score / length_penalty(t + 1, options);
            finished[b].push_back({beams.history[parent], candidates[rank].score, score});
          }
          continue;
        }
        const size_t row = b * K + alive++;
        next.scores[row] = candidates[rank].score;
        next.history[row] = beams.history[parent];
        next.history[row].push_back(token);
        next.tokens[row] = token;
        next.parents[row] = int32_t(parent);
      }
      if (finished[b].size() >= K || alive == 0) {
        done[b] = true;
        --remaining;
        for (size_t k = 0; k < K; ++k) next.scores[b * K + k] = kDead;
      }
    }
    beams = std::move(next);
  }
  for (auto& list : finished) {
    std::stable_sort(list.begin(), list.end(), [](const Hypothesis& a, const Hypothesis& c) { return a.score > c.score; });
  }
  return finished;
}

std::vector<std::vector<int32_t>> best_tokens(const std::vector<std::vector<Hypothesis>>& nbest) {
  std::vector<std::vector<int32_t>> tokens;
  tokens.reserve(nbest.size());
  for (const auto& list : nbest) tokens.push_back(list.empty() ? std::vector<int32_t>{} : list.front().tokens);
  return tokens;
}

}  // namespace rnnlab::trainer
