// The linear-chain CRF (layers/crf.h) against brute force: log Z and the exact gradient by
// enumerating every tag path of tiny sentences (T <= 4, K <= 3), gradients against central
// finite differences in double, Viterbi against the argmax over all paths, a padded batch
// against each sentence alone, long and extreme inputs, errors; and its time per batch at a
// POS tagger's size (printed, not asserted).
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "layers/crf.h"

namespace rnnlab::layers {
namespace {

// A batch and its CRF parameters, in Real, with random scores of a given scale.
template <typename Real>
struct Problem {
  CrfShape shape;
  std::vector<Real> emissions;       // [T, N, K]
  std::vector<int32_t> tags;         // [T, N]; padded steps hold -100
  std::vector<int32_t> lengths;      // [N]
  std::vector<Real> parameters;      // one segment: start | end | transitions
  CrfWeights<Real> weights() const { return crf_weights_at(parameters.data(), shape.tags); }
  int32_t tag(int64_t t, int64_t n) const { return tags[size_t(t * shape.batch + n)]; }
  Real emission(int64_t t, int64_t n, int64_t k) const {
    return emissions[size_t((t * shape.batch + n) * shape.tags + k)];
  }
};

template <typename Real>
Problem<Real> random_problem(std::vector<int32_t> lengths, int64_t steps, int64_t tags, double scale,
                             unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> uniform(-scale, scale);
  std::uniform_int_distribution<int32_t> pick(0, int32_t(tags) - 1);
  Problem<Real> p;
  p.shape = {steps, int64_t(lengths.size()), tags};
  p.lengths = std::move(lengths);
  p.emissions.resize(size_t(steps * p.shape.batch * tags));
  for (Real& value : p.emissions) value = Real(uniform(random));
  p.parameters.resize(size_t(crf_parameter_count(tags)));
  for (Real& value : p.parameters) value = Real(uniform(random));
  p.tags.assign(size_t(steps * p.shape.batch), -100);
  for (int64_t n = 0; n < p.shape.batch; ++n) {
    for (int64_t t = 0; t < p.lengths[size_t(n)]; ++t) p.tags[size_t(t * p.shape.batch + n)] = pick(random);
  }
  return p;
}

// Everything enumeration gives for one sequence: log Z, the best path and its score, and
// the gradient of -log p(gold) (expected counts minus gold counts).
struct BruteForce {
  double log_z = 0.0;
  double best_score = -INFINITY;
  std::vector<int32_t> best_path;
  std::vector<double> diff_emissions;  // [L, K]
  std::vector<double> diff_parameters; // start | end | transitions, like the segment
};

template <typename Real>
BruteForce brute_force(const Problem<Real>& p, int64_t n) {
  const int64_t k = p.shape.tags, length = p.lengths[size_t(n)];
  const CrfWeights<Real> w = p.weights();
  std::vector<std::vector<int32_t>> paths;
  std::vector<double> scores;
  int64_t count = 1;
  for (int64_t t = 0; t < length; ++t) count *= k;
  for (int64_t code = 0; code < count; ++code) {
    std::vector<int32_t> path(static_cast<size_t>(length));
    for (int64_t t = 0, rest = code; t < length; ++t, rest /= k) path[size_t(t)] = int32_t(rest % k);
    double score = double(w.start[path[0]]) + double(w.end[path[size_t(length - 1)]]);
    for (int64_t t = 0; t < length; ++t) score += double(p.emission(t, n, path[size_t(t)]));
    for (int64_t t = 1; t < length; ++t) score += double(w.transitions[path[size_t(t - 1)] * k + path[size_t(t)]]);
    paths.push_back(path);
    scores.push_back(score);
  }
  BruteForce result;
  double top = -INFINITY;
  for (double score : scores) top = std::max(top, score);
  double sum = 0.0;
  for (double score : scores) sum += std::exp(score - top);
  result.log_z = top + std::log(sum);
  result.diff_emissions.assign(size_t(length * k), 0.0);
  result.diff_parameters.assign(size_t(crf_parameter_count(k)), 0.0);
  // Adds weight * (the counts of `path`) to the gradient.
  auto add_counts = [&](const std::vector<int32_t>& path, double weight) {
    result.diff_parameters[size_t(path[0])] += weight;
    result.diff_parameters[size_t(k + path[size_t(length - 1)])] += weight;
    for (int64_t t = 0; t < length; ++t) result.diff_emissions[size_t(t * k + path[size_t(t)])] += weight;
    for (int64_t t = 1; t < length; ++t)
      result.diff_parameters[size_t(2 * k + path[size_t(t - 1)] * k + path[size_t(t)])] += weight;
  };
  for (size_t i = 0; i < paths.size(); ++i) {
    add_counts(paths[i], std::exp(scores[i] - result.log_z));
    if (scores[i] > result.best_score) {
      result.best_score = scores[i];
      result.best_path = paths[i];
    }
  }
  std::vector<int32_t> gold(static_cast<size_t>(length));
  for (int64_t t = 0; t < length; ++t) gold[size_t(t)] = p.tag(t, n);
  add_counts(gold, -1.0);
  return result;
}

// The CRF's loss and gradients for a whole problem (parameter gradient: one segment).
template <typename Real>
struct Computed {
  CrfLoss loss;
  std::vector<Real> diff_emissions;
  std::vector<Real> diff_parameters;
};

template <typename Real>
Computed<Real> compute(const Problem<Real>& p, double gradient_scale = 1.0) {
  Computed<Real> c;
  c.diff_emissions.assign(p.emissions.size(), Real(7));  // overwritten, padding included
  c.diff_parameters.assign(p.parameters.size(), Real(0));
  c.loss = crf_negative_log_likelihood(p.shape, p.emissions.data(), p.lengths.data(), p.tags.data(), p.weights(),
                                       c.diff_emissions.data(),
                                       crf_gradients_at(c.diff_parameters.data(), p.shape.tags), gradient_scale);
  return c;
}

template <typename Real>
double loss_of(const Problem<Real>& p) {
  return crf_negative_log_likelihood(p.shape, p.emissions.data(), p.lengths.data(), p.tags.data(), p.weights())
      .loss;
}

// The CRF against enumeration on every sequence of `p`: log Z, loss, gradient, Viterbi.
void expect_matches_brute_force(const Problem<double>& p, double tolerance) {
  const int64_t k = p.shape.tags, batch = p.shape.batch;
  std::vector<double> log_z(static_cast<size_t>(batch)), best_scores(static_cast<size_t>(batch));
  std::vector<int32_t> best(size_t(p.shape.steps * batch));
  crf_log_partition(p.shape, p.emissions.data(), p.lengths.data(), p.weights(), log_z.data());
  crf_viterbi(p.shape, p.emissions.data(), p.lengths.data(), p.weights(), best.data(), best_scores.data());
  const Computed<double> c = compute(p);
  std::vector<double> gold_score(static_cast<size_t>(batch));
  crf_path_scores(p.shape, p.emissions.data(), p.lengths.data(), p.tags.data(), p.weights(), gold_score.data());
  double expected_loss = 0.0;
  std::vector<double> expected_parameters(p.parameters.size(), 0.0);
  for (int64_t n = 0; n < batch; ++n) {
    const BruteForce b = brute_force(p, n);
    expected_loss += b.log_z - gold_score[size_t(n)];
    EXPECT_NEAR(log_z[size_t(n)], b.log_z, tolerance * (1 + std::abs(b.log_z))) << "sequence " << n;
    EXPECT_NEAR(best_scores[size_t(n)], b.best_score, tolerance * (1 + std::abs(b.best_score))) << "sequence " << n;
    for (int64_t t = 0; t < p.shape.steps; ++t) {
      const bool padded = t >= p.lengths[size_t(n)];
      EXPECT_EQ(best[size_t(t * batch + n)], padded ? -1 : b.best_path[size_t(t)]) << "step " << t << " seq " << n;
      for (int64_t j = 0; j < k; ++j) {
        EXPECT_NEAR(c.diff_emissions[size_t((t * batch + n) * k + j)],
                    padded ? 0.0 : b.diff_emissions[size_t(t * k + j)], tolerance)
            << "d emission step " << t << " seq " << n << " tag " << j;
      }
    }
    for (size_t i = 0; i < expected_parameters.size(); ++i) expected_parameters[i] += b.diff_parameters[i];
  }
  EXPECT_NEAR(c.loss.loss, expected_loss, tolerance * (1 + std::abs(expected_loss)));
  for (size_t i = 0; i < expected_parameters.size(); ++i)
    EXPECT_NEAR(c.diff_parameters[i], expected_parameters[i], tolerance) << "d parameter " << i;
}

TEST(Crf, ParameterLayoutFollowsPytorchCrf) {
  const std::vector<CrfParameter> parameters = crf_parameters(3);
  ASSERT_EQ(parameters.size(), 3u);
  EXPECT_EQ(parameters[0].name, "crf.start_transitions");
  EXPECT_EQ(parameters[1].name, "crf.end_transitions");
  EXPECT_EQ(parameters[2].name, "crf.transitions");
  EXPECT_EQ(parameters[2].shape, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(parameters[1].offset, 3);
  EXPECT_EQ(parameters[2].offset, 6);
  EXPECT_EQ(crf_parameter_count(3), 15);
  EXPECT_EQ(crf_parameter_count(45), 45 * 45 + 90);
  EXPECT_EQ(crf_parameters(2, "head.crf")[2].name, "head.crf.transitions");
  const std::vector<float> segment(15);
  const CrfWeights<float> w = crf_weights_at(segment.data(), 3);
  EXPECT_EQ(w.start, segment.data());
  EXPECT_EQ(w.end, segment.data() + 3);
  EXPECT_EQ(w.transitions, segment.data() + 6);
  EXPECT_THROW(crf_parameters(0), std::invalid_argument);
}

TEST(Crf, EqualsBruteForceOnTinySentences) {
  for (int64_t k = 1; k <= 3; ++k) {
    for (unsigned seed = 0; seed < 4; ++seed) {
      SCOPED_TRACE("K=" + std::to_string(k) + " seed " + std::to_string(seed));
      expect_matches_brute_force(random_problem<double>({4, 2, 1, 3}, 4, k, 2.0, seed), 1e-10);
    }
  }
}

// Scores of hundreds of nats: the fast paths' exponentials would overflow or underflow;
// the exact fallbacks must take over.
TEST(Crf, EqualsBruteForceWithExtremeScores) {
  for (unsigned seed = 0; seed < 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Problem<double> p = random_problem<double>({4, 3, 2}, 4, 3, 900.0, 100 + seed);
    expect_matches_brute_force(p, 1e-9);
    // Every transition into tag 0 forbidden (-1e4): its column's sum underflows.
    for (int64_t i = 0; i < 3; ++i) p.parameters[size_t(6 + i * 3)] = -1e4;
    expect_matches_brute_force(p, 1e-9);
  }
}

TEST(Crf, GradientsEqualCentralFiniteDifferences) {
  Problem<double> p = random_problem<double>({3, 1, 4}, 4, 3, 1.5, 7);
  const double scale = 0.25;
  const Computed<double> c = compute(p, scale);
  const double eps = 1e-6;
  auto central = [&](double* value) {
    const double saved = *value;
    *value = saved + eps;
    const double plus = loss_of(p);
    *value = saved - eps;
    const double minus = loss_of(p);
    *value = saved;
    return scale * (plus - minus) / (2 * eps);
  };
  for (size_t i = 0; i < p.emissions.size(); ++i)
    EXPECT_NEAR(c.diff_emissions[i], central(&p.emissions[i]), 1e-7) << "emission " << i;
  for (size_t i = 0; i < p.parameters.size(); ++i)
    EXPECT_NEAR(c.diff_parameters[i], central(&p.parameters[i]), 1e-7) << "parameter " << i;
}

TEST(Crf, ParameterGradientsAddAndEmissionGradientsOverwrite) {
  const Problem<double> p = random_problem<double>({2, 3}, 3, 2, 1.0, 3);
  const Computed<double> once = compute(p, 0.5);
  std::vector<double> diff_emissions(p.emissions.size(), 5.0), diff_parameters(p.parameters.size(), 1.0);
  for (int repeat = 0; repeat < 2; ++repeat) {
    crf_negative_log_likelihood(p.shape, p.emissions.data(), p.lengths.data(), p.tags.data(), p.weights(),
                                diff_emissions.data(), crf_gradients_at(diff_parameters.data(), 2), 0.5);
  }
  for (size_t i = 0; i < diff_emissions.size(); ++i) EXPECT_DOUBLE_EQ(diff_emissions[i], once.diff_emissions[i]);
  for (size_t i = 0; i < diff_parameters.size(); ++i)
    EXPECT_NEAR(diff_parameters[i], 1.0 + 2 * once.diff_parameters[i], 1e-12);
  // Only the transition gradient asked for: the others untouched, it still added.
  std::vector<double> transitions(4, 0.0);
  crf_negative_log_likelihood(p.shape, p.emissions.data(), p.lengths.data(), p.tags.data(), p.weights(),
                              static_cast<double*>(nullptr), CrfWeightGradients<double>{transitions.data()}, 0.5);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(transitions[i], once.diff_parameters[4 + i], 1e-12);
}

// One sequence of `p` alone, at T = its length (no padding at all).
Problem<float> alone(const Problem<float>& p, int64_t n) {
  const int64_t k = p.shape.tags, length = p.lengths[size_t(n)];
  Problem<float> q;
  q.shape = {length, 1, k};
  q.lengths = {int32_t(length)};
  q.parameters = p.parameters;
  for (int64_t t = 0; t < length; ++t) {
    q.tags.push_back(p.tag(t, n));
    for (int64_t j = 0; j < k; ++j) q.emissions.push_back(p.emission(t, n, j));
  }
  return q;
}

TEST(Crf, PaddedBatchEqualsEachSentenceAlone) {
  Problem<float> p = random_problem<float>({6, 3, 1, 4, 6}, 6, 4, 2.0, 11);
  // Padding holds garbage: huge scores and out-of-range tags must change nothing.
  for (int64_t n = 0; n < p.shape.batch; ++n) {
    for (int64_t t = p.lengths[size_t(n)]; t < p.shape.steps; ++t) {
      p.tags[size_t(t * p.shape.batch + n)] = 99;
      for (int64_t j = 0; j < 4; ++j) p.emissions[size_t((t * p.shape.batch + n) * 4 + j)] = 1e30f;
    }
  }
  const Computed<float> batch = compute(p);
  std::vector<int32_t> best(size_t(p.shape.steps * p.shape.batch));
  crf_viterbi(p.shape, p.emissions.data(), p.lengths.data(), p.weights(), best.data(), nullptr, -7);
  double loss = 0.0;
  std::vector<double> parameters(p.parameters.size(), 0.0);
  for (int64_t n = 0; n < p.shape.batch; ++n) {
    const Problem<float> q = alone(p, n);
    const Computed<float> single = compute(q);
    std::vector<int32_t> single_best(size_t(q.shape.steps));
    crf_viterbi(q.shape, q.emissions.data(), q.lengths.data(), q.weights(), single_best.data());
    loss += single.loss.loss;
    for (size_t i = 0; i < parameters.size(); ++i) parameters[i] += single.diff_parameters[i];
    for (int64_t t = 0; t < p.shape.steps; ++t) {
      const bool padded = t >= q.shape.steps;
      EXPECT_EQ(best[size_t(t * p.shape.batch + n)], padded ? -7 : single_best[size_t(t)]);
      for (int64_t j = 0; j < 4; ++j) {
        EXPECT_EQ(batch.diff_emissions[size_t((t * p.shape.batch + n) * 4 + j)],
                  padded ? 0.0f : single.diff_emissions[size_t(t * 4 + j)]);
      }
    }
  }
  EXPECT_EQ(batch.loss.tokens, 6 + 3 + 1 + 4 + 6);
  EXPECT_EQ(batch.loss.sequences, 5);
  EXPECT_NEAR(batch.loss.loss, loss, 1e-9 * std::abs(loss));  // the same doubles, summed in order
  for (size_t i = 0; i < parameters.size(); ++i) EXPECT_NEAR(batch.diff_parameters[i], parameters[i], 1e-5);
}

// A naive log-space forward algorithm (logsumexp entry by entry) for long sequences.
double naive_log_partition(const Problem<double>& p) {
  const int64_t k = p.shape.tags;
  const CrfWeights<double> w = p.weights();
  std::vector<double> alpha(static_cast<size_t>(k)), next(static_cast<size_t>(k)), terms(static_cast<size_t>(k));
  auto log_sum_exp = [](const std::vector<double>& v) {
    double top = -INFINITY, sum = 0.0;
    for (double x : v) top = std::max(top, x);
    for (double x : v) sum += std::exp(x - top);
    return top + std::log(sum);
  };
  for (int64_t j = 0; j < k; ++j) alpha[size_t(j)] = w.start[j] + p.emission(0, 0, j);
  for (int64_t t = 1; t < p.lengths[0]; ++t) {
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t i = 0; i < k; ++i) terms[size_t(i)] = alpha[size_t(i)] + w.transitions[i * k + j];
      next[size_t(j)] = log_sum_exp(terms) + p.emission(t, 0, j);
    }
    alpha.swap(next);
  }
  for (int64_t j = 0; j < k; ++j) alpha[size_t(j)] += w.end[j];
  return log_sum_exp(alpha);
}

TEST(Crf, LongSentenceStaysFinite) {
  for (double scale : {1.0, 50.0}) {
    Problem<double> p = random_problem<double>({1000}, 1000, 5, scale, 21);
    p.parameters[size_t(10 + 1 * 5 + 2)] = -1e4;  // one forbidden transition 1 -> 2
    const Computed<double> c = compute(p);
    double log_z = 0.0;
    crf_log_partition(p.shape, p.emissions.data(), p.lengths.data(), p.weights(), &log_z);
    EXPECT_TRUE(std::isfinite(c.loss.loss)) << "scale " << scale;
    EXPECT_GE(c.loss.loss, 0.0);
    EXPECT_NEAR(log_z, naive_log_partition(p), 1e-9 * std::abs(log_z));
    for (double value : c.diff_emissions) ASSERT_TRUE(std::isfinite(value));
    for (double value : c.diff_parameters) ASSERT_TRUE(std::isfinite(value));
    // Each step's unary marginals sum to 1, so each row of the gradient sums to 0.
    double row_sum = 0.0;
    for (int64_t j = 0; j < 5; ++j) row_sum += c.diff_emissions[size_t(500 * 5 + j)];
    EXPECT_NEAR(row_sum, 0.0, 1e-9);
  }
}

TEST(Crf, FloatAgreesWithDouble) {
  const Problem<double> d = random_problem<double>({5, 2}, 5, 3, 1.0, 5);
  Problem<float> f;
  f.shape = d.shape;
  f.lengths = d.lengths;
  f.tags = d.tags;
  f.emissions.assign(d.emissions.begin(), d.emissions.end());
  f.parameters.assign(d.parameters.begin(), d.parameters.end());
  const Computed<double> cd = compute(d);
  const Computed<float> cf = compute(f);
  EXPECT_NEAR(cf.loss.loss, cd.loss.loss, 1e-5);
  for (size_t i = 0; i < cd.diff_parameters.size(); ++i) EXPECT_NEAR(cf.diff_parameters[i], cd.diff_parameters[i], 1e-5);
}

TEST(Crf, BadInputIsRejectedWithItsPosition) {
  Problem<float> p = random_problem<float>({3, 2}, 3, 3, 1.0, 1);
  auto message = [&](const Problem<float>& q) {
    try {
      loss_of(q);
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  Problem<float> q = p;
  q.lengths[1] = 0;
  EXPECT_NE(message(q).find("length 0 of sequence 1 is outside [1, 3]"), std::string::npos) << message(q);
  q.lengths[1] = 4;
  EXPECT_NE(message(q).find("length 4 of sequence 1"), std::string::npos) << message(q);
  q = p;
  q.tags[size_t(1 * 2 + 1)] = 3;  // step 1 of sequence 1 (length 2): not padding
  EXPECT_NE(message(q).find("tag 3 at step 1 of sequence 1 is outside [0, 3)"), std::string::npos) << message(q);
  q = p;
  q.shape.tags = 0;
  EXPECT_NE(message(q).find("tags must be > 0"), std::string::npos) << message(q);
  std::vector<int32_t> best(6);
  q = p;
  q.lengths[0] = -1;
  EXPECT_THROW(crf_viterbi(q.shape, q.emissions.data(), q.lengths.data(), q.weights(), best.data()),
               std::invalid_argument);
  // An empty batch is fine and gives 0.
  q.shape.batch = 0;
  EXPECT_EQ(loss_of(q), 0.0);
}

// Time per batch at a POS tagger's size (T=50, N=64, K=45): for the closing note.
TEST(Crf, TimePerBatchAtPosSize) {
  const Problem<float> p = random_problem<float>(std::vector<int32_t>(64, 50), 50, 45, 1.0, 3);
  std::vector<float> diff_emissions(p.emissions.size()), diff_parameters(p.parameters.size());
  std::vector<int32_t> best(p.tags.size());
  using Clock = std::chrono::steady_clock;
  auto milliseconds = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  const int repeats = 10;
  double loss = 0.0;
  const std::clock_t cpu_start = std::clock();
  const Clock::time_point start = Clock::now();
  for (int r = 0; r < repeats; ++r) {
    loss += crf_negative_log_likelihood(p.shape, p.emissions.data(), p.lengths.data(), p.tags.data(), p.weights(),
                                        diff_emissions.data(), crf_gradients_at(diff_parameters.data(), 45))
                .loss;
  }
  const Clock::time_point middle = Clock::now();
  const std::clock_t cpu_middle = std::clock();
  for (int r = 0; r < repeats; ++r) crf_viterbi(p.shape, p.emissions.data(), p.lengths.data(), p.weights(), best.data());
  const Clock::time_point end = Clock::now();
  const std::clock_t cpu_end = std::clock();
  auto cpu_milliseconds = [](std::clock_t d) { return 1000.0 * double(d) / CLOCKS_PER_SEC; };
  // Wall time, and CPU time of all threads (less sensitive to a busy machine).
  std::printf("crf T=50 N=64 K=45 float: loss+gradient %.2f ms/batch wall (%.2f ms cpu), viterbi %.2f ms/batch "
              "wall (%.2f ms cpu)\n",
              milliseconds(middle - start) / repeats, cpu_milliseconds(cpu_middle - cpu_start) / repeats,
              milliseconds(end - middle) / repeats, cpu_milliseconds(cpu_end - cpu_middle) / repeats);
  EXPECT_TRUE(std::isfinite(loss));
}

}  // namespace
}  // namespace rnnlab::layers
