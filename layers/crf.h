// A linear-chain conditional random field (CRF) over per-step tag scores, the output layer
// of a BiLSTM-CRF tagger (Lample et al. 2016; pytorch-crf's torchcrf.CRF): the negative
// log-likelihood of the gold tag paths, its exact gradient, and Viterbi decoding.
//
// Conventions (the same as pytorch-crf with batch_first=False, and time-major like the
// rest of layers/):
//   emissions  [T, N, K] row-major: emissions[(t * N + n) * K + k] is the score of tag k at
//              step t of sequence n (the tagger's logits, before any softmax)
//   tags       [T, N] int32: tags[t * N + n], in [0, K) at t < lengths[n]; the values at
//              padded steps (t >= lengths[n]) are never read
//   lengths    HOST int32 [N], each in [1, T] (pytorch-crf's mask with a prefix of ones)
//   transitions [K, K]: transitions[i * K + j] is the score of moving FROM tag i (at step
//              t - 1) TO tag j (at step t), pytorch-crf's `transitions[i, j]`
//   start [K], end [K]: scores of the first and of the last tag of a sequence
// The score of a path y of length L is
//   start[y_0] + sum_{t<L} emissions[t, y_t] + sum_{0<t<L} transitions[y_{t-1}, y_t] + end[y_{L-1}]
// and p(y) = exp(score(y)) / Z with Z the sum over all K^L paths (the forward algorithm).
// Padded steps take no part in anything: a padded batch gives each sequence exactly what
// it gives alone.
//
// Parameters live in the model's flat buffer in pytorch-crf's state_dict order (see
// crf_parameters()): "crf.start_transitions" [K], "crf.end_transitions" [K],
// "crf.transitions" [K, K].
//
// Numerics: every function computes in double whatever Real is (float for training,
// double for finite-difference tests). The forward and backward recursions stay in log
// space; each step subtracts the running maximum before exponentiating (logsumexp), and
// falls back to an exact per-entry logsumexp if a sum underflows (very negative
// transitions), so a T = 1000 sentence or a forbidden transition (-1e4) stays finite.
// Gradients: diff_emissions is OVERWRITTEN (0 on padded steps); the transition, start and
// end gradients are ADDED to (the trainer zeroes its gradient buffer once a step); all are
// multiplied by gradient_scale (e.g. 1 / sequences for a mean, or 1 / global count).
//
// Failure: a bad size, a length outside [1, T] or a gold tag outside [0, K) at a
// non-padded step throws std::invalid_argument naming the sequence (and step), before
// anything is written. Non-finite scores are not checked (they give a NaN loss).
// Thread safety: pure functions of their arguments; outputs may not alias inputs. Host
// memory only (the CPU side of a future ops.h entry). Sequences are processed in parallel
// (OpenMP) into separate buffers and summed in sequence order, so results do not depend
// on the number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnlab::layers {

struct CrfShape {
  int64_t steps = 0;  // T, the padded length
  int64_t batch = 0;  // N
  int64_t tags = 0;   // K
};

// One parameter tensor of the CRF inside its segment of the flat buffer.
struct CrfParameter {
  std::string name;            // PyTorch name, e.g. "crf.transitions"
  std::vector<int64_t> shape;  // [K] or [K, K]
  int64_t offset = 0;          // elements from the start of the CRF's segment
  int64_t size = 0;            // elements
};

// The CRF's tensors in pytorch-crf's state_dict order (start, end, transitions); `prefix`
// replaces "crf" in the names. tags < 1 throws.
std::vector<CrfParameter> crf_parameters(int64_t tags, const std::string& prefix = "crf");
// K * K + 2 K.
int64_t crf_parameter_count(int64_t tags);

template <typename Real>
struct CrfWeights {
  const Real* transitions = nullptr;  // [K, K], from -> to
  const Real* start = nullptr;        // [K]
  const Real* end = nullptr;          // [K]
};

// Gradient destinations; a nullptr member is skipped.
template <typename Real>
struct CrfWeightGradients {
  Real* transitions = nullptr;
  Real* start = nullptr;
  Real* end = nullptr;
};

// Views of a CRF segment laid out as crf_parameters() says (segment: its first element).
template <typename Real>
CrfWeights<Real> crf_weights_at(const Real* segment, int64_t tags) {
  return {segment + 2 * tags, segment, segment + tags};
}
template <typename Real>
CrfWeightGradients<Real> crf_gradients_at(Real* segment, int64_t tags) {
  return {segment + 2 * tags, segment, segment + tags};
}

struct CrfLoss {
  double loss = 0.0;      // sum over the batch of -log p(gold path)
  int64_t sequences = 0;  // N
  int64_t tokens = 0;     // sum of lengths
};

// Negative log-likelihood summed over the batch (pytorch-crf's -crf(emissions, tags, mask,
// reduction='sum')), and, when diff_emissions or a member of diff_weights is given, its
// gradient (marginals minus gold counts, from forward-backward) times gradient_scale.
template <typename Real>
CrfLoss crf_negative_log_likelihood(const CrfShape& shape, const Real* emissions, const int32_t* lengths,
                                    const int32_t* tags, const CrfWeights<Real>& weights,
                                    Real* diff_emissions = nullptr, const CrfWeightGradients<Real>& diff_weights = {},
                                    double gradient_scale = 1.0);

// log Z of each sequence -> log_partition [N] (the forward algorithm alone).
template <typename Real>
void crf_log_partition(const CrfShape& shape, const Real* emissions, const int32_t* lengths,
                       const CrfWeights<Real>& weights, double* log_partition);

// score(gold path) of each sequence -> scores [N].
template <typename Real>
void crf_path_scores(const CrfShape& shape, const Real* emissions, const int32_t* lengths, const int32_t* tags,
                     const CrfWeights<Real>& weights, double* scores);

// The highest-scoring path of each sequence -> best [T, N] (padded steps get pad_tag), and
// its score -> best_scores [N] when given. Ties go to the lowest tag index at each step.
template <typename Real>
void crf_viterbi(const CrfShape& shape, const Real* emissions, const int32_t* lengths,
                 const CrfWeights<Real>& weights, int32_t* best, double* best_scores = nullptr,
                 int32_t pad_tag = -1);

}  // namespace rnnlab::layers
