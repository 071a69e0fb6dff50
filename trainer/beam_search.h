// Beam search (and greedy decoding, beam_size 1) over an abstract decoder step, batched
// over sentences, so any decoder can drive it: the encoder-decoder of `task: translate`,
// a table in a test, a PyTorch peer's logic written again.
//
// The decoder is a callback that is called once per step for ALL B * K rows (row b * K + k
// is beam k of sentence b):
//   step(t, tokens, parents, log_probs)
//     tokens   [B * K]  the last token of each row: bos_id at t = 0
//     parents  [B * K]  the row of the previous call whose decoder state each row
//                       continues: reorder the state as new_state[r] = state[parents[r]]
//                       before feeding tokens[r]. At t = 0 the "previous state" is the
//                       encoder's, one row per sentence: parents[b * K + k] = b.
//     log_probs         to fill with [B * K, V] log-probabilities, row-major
// Rows of finished sentences (and beams that do not exist yet) are still passed, with
// eos_id as their token; their outputs are ignored. The search stops when every sentence is
// finished, so the number of calls is the longest sentence's steps + 1 at most.
//
// Search (as fairseq's): each step, every sentence's alive beams are extended by every token
// and the 2K best candidates by accumulated log-probability are taken in order: a candidate
// ending in eos_id that ranks among the first K finishes a hypothesis; the others (up to K)
// become the alive beams of the next step. A sentence is finished when it holds K finished
// hypotheses, or has no alive beam. At step max_length (t tokens already produced) only
// eos_id may follow, so no hypothesis exceeds max_length = max(1, ceil(max_length_ratio *
// source_length) + max_length_offset) tokens before </s>.
// Finished hypotheses are ranked by log_prob / lp(n), n = the tokens including </s>:
//   none     lp = 1 (raw log-probability: favours short outputs)
//   gnmt     lp = ((5 + n) / 6)^alpha (Wu et al. 2016, GNMT; the default, alpha 0.6)
//   average  lp = n (mean log-probability per token)
// Ties go to the lower (beam, token) index, so the search is deterministic and each
// sentence's result does not depend on the others in the batch.
//
// Failure: std::invalid_argument for bad options (beam_size < 1, vocab_size < 1, ids outside
// the vocabulary, max_length_ratio <= 0) and for a callback that leaves log_probs with the
// wrong size. Thread safety: none shared; the callback is called on the caller's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace rnnlab::trainer {

enum class LengthNormalization { none, gnmt, average };

struct BeamSearchOptions {
  int beam_size = 5;  // K; 1 = greedy
  int vocab_size = 0;  // V: the width of each log_probs row
  int32_t bos_id = 0;
  int32_t eos_id = 0;
  LengthNormalization length_normalization = LengthNormalization::gnmt;
  double alpha = 0.6;  // gnmt's exponent
  double max_length_ratio = 1.5;
  int max_length_offset = 0;
};

using BeamStep = std::function<void(int step, const std::vector<int32_t>& tokens,
                                    const std::vector<int32_t>& parents, std::vector<float>& log_probs)>;

struct Hypothesis {
  std::vector<int32_t> tokens;  // without <s> and </s>
  double log_prob = 0;          // sum over the tokens and </s>
  double score = 0;             // log_prob / lp(tokens + 1)
};

// One n-best list per sentence (best first, at most beam_size each; never empty).
std::vector<std::vector<Hypothesis>> beam_search(const std::vector<int>& source_lengths,
                                                 const BeamSearchOptions& options, const BeamStep& step);

// The best hypothesis' tokens of each sentence.
std::vector<std::vector<int32_t>> best_tokens(const std::vector<std::vector<Hypothesis>>& nbest);

// The sentence's output length bound (see above).
int max_output_length(int source_length, const BeamSearchOptions& options);
// lp(n) of the chosen normalisation.
double length_penalty(int tokens_with_eos, const BeamSearchOptions& options);

}  // namespace rnnlab::trainer
