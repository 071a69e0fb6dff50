#include "layers/crf.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace rnnlab::layers {
namespace {

void require(bool ok, const char* function, const std::string& message) {
  if (!ok) throw std::invalid_argument(std::string(function) + ": " + message);
}

// Sizes, pointers, lengths and (when given) the gold tags of the non-padded steps.
template <typename Real>
void check_inputs(const char* function, const CrfShape& shape, const Real* emissions, const int32_t* lengths,
                  const int32_t* tags, const CrfWeights<Real>& weights, bool needs_tags) {
  require(shape.steps >= 0 && shape.batch >= 0, function,
          "steps and batch must be >= 0, got T=" + std::to_string(shape.steps) + " N=" + std::to_string(shape.batch));
  require(shape.tags > 0, function, "tags must be > 0, got " + std::to_string(shape.tags));
  require(weights.transitions && weights.start && weights.end, function,
          "transitions, start and end must all be given");
  if (shape.batch == 0) return;
  require(shape.steps > 0, function, "steps must be > 0 for a non-empty batch");
  require(emissions && lengths, function, "emissions and lengths must be given");
  require(!needs_tags || tags, function, "tags must be given");
  for (int64_t n = 0; n < shape.batch; ++n) {
    require(lengths[n] >= 1 && lengths[n] <= shape.steps, function,
            "length " + std::to_string(lengths[n]) + " of sequence " + std::to_string(n) + " is outside [1, " +
                std::to_string(shape.steps) + "]");
    if (!needs_tags) continue;
    for (int64_t t = 0; t < lengths[n]; ++t) {
      const int32_t tag = tags[t * shape.batch + n];
      require(tag >= 0 && tag < shape.tags, function,
              "tag " + std::to_string(tag) + " at step " + std::to_string(t) + " of sequence " + std::to_string(n) +
                  " is outside [0, " + std::to_string(shape.tags) + ") (padding is only allowed at steps >= the "
                  "sequence's length)");
    }
  }
}

double max_of(const double* values, int64_t count) { return *std::max_element(values, values + count); }

double log_sum_exp(const double* values, int64_t count) {
  const double top = max_of(values, count);
  if (!std::isfinite(top)) return top;
  double sum = 0.0;
  for (int64_t i = 0; i < count; ++i) sum += std::exp(values[i] - top);
  return top + std::log(sum);
}

// The parameters in double, and exp(transitions - max) for the fast recursions.
struct Tables {
  int64_t tags = 0;
  std::vector<double> transitions, exp_transitions, start, end;
  double transitions_max = 0.0;

  template <typename Real>
  Tables(const CrfWeights<Real>& weights, int64_t k)
      : tags(k),
        transitions(weights.transitions, weights.transitions + k * k),
        exp_transitions(size_t(k * k)),
        start(weights.start, weights.start + k),
        end(weights.end, weights.end + k),
        transitions_max(max_of(transitions.data(), k * k)) {
    for (int64_t i = 0; i < k * k; ++i) exp_transitions[size_t(i)] = std::exp(transitions[size_t(i)] - transitions_max);
  }
  double transition(int64_t from, int64_t to) const { return transitions[size_t(from * tags + to)]; }
};

// A sum of exponentials below this is recomputed exactly (entry by entry), so underflow in
// the fast path never turns into log(0).
constexpr double kUnderflow = 1e-280;

// forward (to_next): out[j] = logsumexp_i(v[i] + transitions[i, j]);
// backward:          out[i] = logsumexp_j(transitions[i, j] + v[j]).
// Computed as max(v) + max(transitions) + log(sum exp(v - max) exp(transitions - max)),
// with an exact logsumexp for any entry whose sum underflows. scratch: 3 K doubles.
void log_transition_product(const Tables& tables, const double* v, bool to_next, double* out, double* scratch) {
  const int64_t k = tables.tags;
  const double top = max_of(v, k);
  if (!std::isfinite(top)) {  // every entry -inf (no path) or a NaN / inf score: propagate it
    std::fill(out, out + k, top);
    return;
  }
  double* weights = scratch;
  double* sums = scratch + k;
  double* terms = scratch + 2 * k;
  for (int64_t i = 0; i < k; ++i) weights[i] = std::exp(v[i] - top);
  std::fill(sums, sums + k, 0.0);
  for (int64_t i = 0; i < k; ++i) {
    const double* row = tables.exp_transitions.data() + i * k;
    if (to_next) {
      for (int64_t j = 0; j < k; ++j) sums[j] += weights[i] * row[j];
    } else {
      double sum = 0.0;
      for (int64_t j = 0; j < k; ++j) sum += row[j] * weights[j];
      sums[i] = sum;
    }
  }
  for (int64_t a = 0; a < k; ++a) {
    if (sums[a] > kUnderflow) {
      out[a] = top + tables.transitions_max + std::log(sums[a]);
      continue;
    }
    for (int64_t b = 0; b < k; ++b) terms[b] = v[b] + (to_next ? tables.transition(b, a) : tables.transition(a, b));
    out[a] = log_sum_exp(terms, k);
  }
}

// One sequence's scores in double: em [L, K].
template <typename Real>
std::vector<double> sequence_emissions(const CrfShape& shape, const Real* emissions, int64_t n, int64_t length) {
  const int64_t k = shape.tags;
  std::vector<double> em(size_t(length * k));
  for (int64_t t = 0; t < length; ++t) {
    const Real* row = emissions + (t * shape.batch + n) * k;
    std::copy(row, row + k, em.begin() + t * k);
  }
  return em;
}

// alpha [L, K]: log of the summed scores of every path prefix ending in tag k at step t
// (emission at t included). Returns log Z.
double forward(const Tables& tables, const double* em, int64_t length, double* alpha, double* scratch) {
  const int64_t k = tables.tags;
  for (int64_t j = 0; j < k; ++j) alpha[j] = tables.start[size_t(j)] + em[j];
  for (int64_t t = 1; t < length; ++t) {
    double* now = alpha + t * k;
    log_transition_product(tables, alpha + (t - 1) * k, true, now, scratch);
    for (int64_t j = 0; j < k; ++j) now[j] += em[t * k + j];
  }
  double* last = scratch;  // log_transition_product is done with scratch
  for (int64_t j = 0; j < k; ++j) last[j] = alpha[(length - 1) * k + j] + tables.end[size_t(j)];
  return log_sum_exp(last, k);
}

// beta [L, K]: log of the summed scores of every path suffix after tag k at step t (end
// score included, emission at t excluded).
void backward(const Tables& tables, const double* em, int64_t length, double* beta, double* scratch) {
  const int64_t k = tables.tags;
  std::vector<double> next(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) beta[(length - 1) * k + i] = tables.end[size_t(i)];
  for (int64_t t = length - 2; t >= 0; --t) {
    for (int64_t j = 0; j < k; ++j) next[size_t(j)] = em[(t + 1) * k + j] + beta[(t + 1) * k + j];
    log_transition_product(tables, next.data(), false, beta + t * k, scratch);
  }
}

double gold_score(const Tables& tables, const double* em, int64_t length, const int32_t* tags, int64_t batch,
                  int64_t n) {
  const int64_t k = tables.tags;
  auto tag = [&](int64_t t) { return int64_t(tags[t * batch + n]); };
  double score = tables.start[size_t(tag(0))] + tables.end[size_t(tag(length - 1))];
  for (int64_t t = 0; t < length; ++t) score += em[t * k + tag(t)];
  for (int64_t t = 1; t < length; ++t) score += tables.transition(tag(t - 1), tag(t));
  return score;
}

// Where one sequence's parameter gradients go before the ordered sum: [K*K | K | K].
struct SequenceGradient {
  double* transitions;
  double* start;
  double* end;
};

// d(-log p(gold)) for one sequence: unary marginals minus gold indicators into
// diff_emissions (scaled) and start/end; pairwise marginals minus gold transitions.
template <typename Real>
void sequence_gradient(const Tables& tables, const CrfShape& shape, const double* em, const double* alpha,
                       const double* beta, double log_z, int64_t length, const int32_t* tags, int64_t n,
                       double scale, Real* diff_emissions, const SequenceGradient& grad, double* scratch) {
  const int64_t k = tables.tags;
  auto tag = [&](int64_t t) { return int64_t(tags[t * shape.batch + n]); };
  for (int64_t t = 0; t < length; ++t) {
    Real* diff_row = diff_emissions ? diff_emissions + (t * shape.batch + n) * k : nullptr;
    for (int64_t j = 0; j < k; ++j) {
      const double marginal = std::exp(alpha[t * k + j] + beta[t * k + j] - log_z) - (tag(t) == j ? 1.0 : 0.0);
      if (diff_row) diff_row[j] = Real(marginal * scale);
      if (t == 0) grad.start[j] += marginal;
      if (t == length - 1) grad.end[j] += marginal;
    }
  }
  double* from = scratch;      // exp(alpha[t-1] - max)
  double* to = scratch + k;    // exp(em[t] + beta[t] - max)
  for (int64_t t = 1; t < length; ++t) {
    const double* previous = alpha + (t - 1) * k;
    const double from_max = max_of(previous, k);
    for (int64_t j = 0; j < k; ++j) to[j] = em[t * k + j] + beta[t * k + j];
    const double to_max = max_of(to, k);
    const double shift = from_max + to_max + tables.transitions_max - log_z;  // >= -2 log K
    for (int64_t i = 0; i < k; ++i) from[i] = std::exp(previous[i] - from_max);
    for (int64_t j = 0; j < k; ++j) to[j] = std::exp(to[j] - to_max);
    if (shift <= 600.0) {  // exp(shift) is finite and the products stay normal
      const double factor = std::exp(shift);
      for (int64_t i = 0; i < k; ++i) {
        const double* row = tables.exp_transitions.data() + i * k;
        double* dst = grad.transitions + i * k;
        const double weight = from[i] * factor;
        for (int64_t j = 0; j < k; ++j) dst[j] += weight * row[j] * to[j];
      }
    } else {
      for (int64_t i = 0; i < k; ++i) {
        for (int64_t j = 0; j < k; ++j) {
          grad.transitions[i * k + j] +=
              std::exp(previous[i] + tables.transition(i, j) + em[t * k + j] + beta[t * k + j] - log_z);
        }
      }
    }
    grad.transitions[tag(t - 1) * k + tag(t)] -= 1.0;
  }
}

// Runs body(n) for every sequence, in parallel when the batch is worth it. Every
// sequence writes only its own outputs, so the thread count changes nothing.
template <typename Body>
void for_each_sequence(const CrfShape& shape, Body body) {
  const int64_t work = shape.batch * shape.steps * shape.tags * shape.tags;
  const int64_t batch = shape.batch;
#pragma omp parallel for schedule(dynamic) if (work > (int64_t(1) << 16))
  for (int64_t n = 0; n < batch; ++n) body(n);
}

}  // namespace

std::vector<CrfParameter> crf_parameters(int64_t tags, const std::string& prefix) {
  require(tags > 0, "crf_parameters", "tags must be > 0, got " + std::to_string(tags));
  return {{prefix + ".start_transitions", {tags}, 0, tags},
          {prefix + ".end_transitions", {tags}, tags, tags},
          {prefix + ".transitions", {tags, tags}, 2 * tags, tags * tags}};
}

int64_t crf_parameter_count(int64_t tags) {
  require(tags > 0, "crf_parameter_count", "tags must be > 0, got " + std::to_string(tags));
  return tags * tags + 2 * tags;
}

template <typename Real>
CrfLoss crf_negative_log_likelihood(const CrfShape& shape, const Real* emissions, const int32_t* lengths,
                                    const int32_t* tags, const CrfWeights<Real>& weights, Real* diff_emissions,
                                    const CrfWeightGradients<Real>& diff_weights, double gradient_scale) {
  check_inputs("crf_negative_log_likelihood", shape, emissions, lengths, tags, weights, true);
  const int64_t k = shape.tags, per_sequence = k * k + 2 * k;
  const bool gradients = diff_emissions || diff_weights.transitions || diff_weights.start || diff_weights.end;
  if (diff_emissions) std::fill(diff_emissions, diff_emissions + shape.steps * shape.batch * k, Real(0));
  const Tables tables(weights, k);
  std::vector<double> losses(size_t(shape.batch));
  std::vector<double> parameter_grads(gradients ? size_t(shape.batch * per_sequence) : 0, 0.0);
  for_each_sequence(shape, [&](int64_t n) {
    const int64_t length = lengths[n];
    const std::vector<double> em = sequence_emissions(shape, emissions, n, length);
    std::vector<double> alpha(size_t(length * k)), scratch(size_t(3 * k));
    const double log_z = forward(tables, em.data(), length, alpha.data(), scratch.data());
    losses[size_t(n)] = log_z - gold_score(tables, em.data(), length, tags, shape.batch, n);
    if (!gradients) return;
    std::vector<double> beta(size_t(length * k));
    backward(tables, em.data(), length, beta.data(), scratch.data());
    double* mine = parameter_grads.data() + n * per_sequence;
    sequence_gradient(tables, shape, em.data(), alpha.data(), beta.data(), log_z, length, tags, n, gradient_scale,
                      diff_emissions, {mine, mine + k * k, mine + k * k + k}, scratch.data());
  });

  CrfLoss result;
  result.sequences = shape.batch;
  for (int64_t n = 0; n < shape.batch; ++n) {
    result.loss += losses[size_t(n)];
    result.tokens += lengths[n];
  }
  if (!gradients) return result;
  std::vector<double> total(size_t(per_sequence), 0.0);
  for (int64_t n = 0; n < shape.batch; ++n) {
    for (int64_t p = 0; p < per_sequence; ++p) total[size_t(p)] += parameter_grads[size_t(n * per_sequence + p)];
  }
  auto add = [&](Real* dst, int64_t offset, int64_t count) {
    if (!dst) return;
    for (int64_t p = 0; p < count; ++p) dst[p] += Real(total[size_t(offset + p)] * gradient_scale);
  };
  add(diff_weights.transitions, 0, k * k);
  add(diff_weights.start, k * k, k);
  add(diff_weights.end, k * k + k, k);
  return result;
}

template <typename Real>
void crf_log_partition(const CrfShape& shape, const Real* emissions, const int32_t* lengths,
                       const CrfWeights<Real>& weights, double* log_partition) {
  check_inputs("crf_log_partition", shape, emissions, lengths, static_cast<const int32_t*>(nullptr), weights, false);
  const Tables tables(weights, shape.tags);
  for_each_sequence(shape, [&](int64_t n) {
    const std::vector<double> em = sequence_emissions(shape, emissions, n, lengths[n]);
    std::vector<double> alpha(em.size()), scratch(size_t(3 * shape.tags));
    log_partition[n] = forward(tables, em.data(), lengths[n], alpha.data(), scratch.data());
  });
}

template <typename Real>
void crf_path_scores(const CrfShape& shape, const Real* emissions, const int32_t* lengths, const int32_t* tags,
                     const CrfWeights<Real>& weights, double* scores) {
  check_inputs("crf_path_scores", shape, emissions, lengths, tags, weights, true);
  const Tables tables(weights, shape.tags);
  for (int64_t n = 0; n < shape.batch; ++n) {
    const std::vector<double> em = sequence_emissions(shape, emissions, n, lengths[n]);
    scores[n] = gold_score(tables, em.data(), lengths[n], tags, shape.batch, n);
  }
}

template <typename Real>
void crf_viterbi(const CrfShape& shape, const Real* emissions, const int32_t* lengths,
                 const CrfWeights<Real>& weights, int32_t* best, double* best_scores, int32_t pad_tag) {
  check_inputs("crf_viterbi", shape, emissions, lengths, static_cast<const int32_t*>(nullptr), weights, false);
  const int64_t k = shape.tags;
  const Tables tables(weights, k);
  std::fill(best, best + shape.steps * shape.batch, pad_tag);
  for_each_sequence(shape, [&](int64_t n) {
    const int64_t length = lengths[n];
    const std::vector<double> em = sequence_emissions(shape, emissions, n, length);
    std::vector<double> delta(static_cast<size_t>(k)), next(static_cast<size_t>(k));
    std::vector<int32_t> back(size_t(length * k), 0);  // back[t, j]: best tag at t - 1 before j at t
    for (int64_t j = 0; j < k; ++j) delta[size_t(j)] = tables.start[size_t(j)] + em[size_t(j)];
    for (int64_t t = 1; t < length; ++t) {
      for (int64_t j = 0; j < k; ++j) {
        int64_t arg = 0;
        double top = -std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < k; ++i) {
          const double value = delta[size_t(i)] + tables.transition(i, j);
          if (value > top) {  // strict: the lowest index wins ties
            top = value;
            arg = i;
          }
        }
        next[size_t(j)] = top + em[size_t(t * k + j)];
        back[size_t(t * k + j)] = int32_t(arg);
      }
      delta.swap(next);
    }
    for (int64_t j = 0; j < k; ++j) delta[size_t(j)] += tables.end[size_t(j)];
    int64_t tag = std::max_element(delta.begin(), delta.end()) - delta.begin();
    if (best_scores) best_scores[n] = delta[size_t(tag)];
    for (int64_t t = length - 1; t >= 0; --t) {
      best[t * shape.batch + n] = int32_t(tag);
      tag = back[size_t(t * k + tag)];
    }
  });
}

#define RNNLAB_CRF_INSTANTIATE(Real)                                                                           \
  template CrfLoss crf_negative_log_likelihood<Real>(const CrfShape&, const Real*, const int32_t*,            \
                                                     const int32_t*, const CrfWeights<Real>&, Real*,           \
                                                     const CrfWeightGradients<Real>&, double);                 \
  template void crf_log_partition<Real>(const CrfShape&, const Real*, const int32_t*, const CrfWeights<Real>&, \
                                        double*);                                                              \
  template void crf_path_scores<Real>(const CrfShape&, const Real*, const int32_t*, const int32_t*,            \
                                      const CrfWeights<Real>&, double*);                                       \
  template void crf_viterbi<Real>(const CrfShape&, const Real*, const int32_t*, const CrfWeights<Real>&,       \
                                  int32_t*, double*, int32_t);
RNNLAB_CRF_INSTANTIATE(float)
RNNLAB_CRF_INSTANTIATE(double)
#undef RNNLAB_CRF_INSTANTIATE

}  // namespace rnnlab::layers
