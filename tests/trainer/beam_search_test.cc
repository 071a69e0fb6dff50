// Beam search (trainer/beam_search.h) over a toy decoder whose state is the prefix it has
// produced: it reorders that state by the parent indices as a real decoder reorders its
// hidden state, so a wrong parent shows up as a wrong prefix. Cases: greedy differs from
// beam where the best sequence is known, beam equals exhaustive search, EOS handling and
// the length bound, batched equals one sentence at a time, length normalisation, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>
#include <vector>

#include "layers/random.h"
#include "trainer/beam_search.h"

namespace rnnlab::trainer {
namespace {

using Tokens = std::vector<int32_t>;
// Next-token probabilities of sentence `sentence` after `prefix` (without <s>).
using Table = std::function<std::vector<double>(int sentence, const Tokens& prefix)>;

constexpr int32_t kEos = 0;
constexpr int32_t kBos = 3;
constexpr int kVocab = 4;  // </s>, a, b, <s>

class TableDecoder {
 public:
  TableDecoder(Table table, int first_sentence, int beam_size)
      : table_(std::move(table)), first_(first_sentence), beam_(beam_size) {}

  void operator()(int t, const Tokens& tokens, const std::vector<int32_t>& parents, std::vector<float>& log_probs) {
    ++calls_;
    std::vector<State> previous = std::move(rows_);
    rows_.assign(tokens.size(), State{});
    for (size_t r = 0; r < tokens.size(); ++r) {
      if (t == 0) {
        EXPECT_EQ(parents[r], int32_t(r) / beam_) << "step 0 starts from the encoder's row of the sentence";
        EXPECT_EQ(tokens[r], kBos);
        rows_[r] = State{first_ + parents[r], {}};
        continue;
      }
      EXPECT_GE(parents[r], 0);
      EXPECT_LT(size_t(parents[r]), previous.size());
      rows_[r] = previous[size_t(parents[r])];
      rows_[r].prefix.push_back(tokens[r]);
    }
    for (const State& row : rows_) {
      for (double p : table_(row.sentence, row.prefix)) log_probs.push_back(float(std::log(p)));
    }
  }
  int calls() const { return calls_; }

 private:
  struct State {
    int sentence = 0;
    Tokens prefix;
  };
  Table table_;
  int first_;
  int beam_;
  std::vector<State> rows_;
  int calls_ = 0;
};

BeamSearchOptions options_for(int beam_size, LengthNormalization normalization) {
  BeamSearchOptions options;
  options.beam_size = beam_size;
  options.vocab_size = kVocab;
  options.bos_id = kBos;
  options.eos_id = kEos;
  options.length_normalization = normalization;
  return options;
}

std::vector<std::vector<Hypothesis>> run_search(const std::vector<int>& lengths, const BeamSearchOptions& options,
                                            const Table& table, int first_sentence = 0, int* calls = nullptr) {
  TableDecoder decoder(table, first_sentence, options.beam_size);
  auto step = [&decoder](int t, const Tokens& tokens, const std::vector<int32_t>& parents, std::vector<float>& out) {
    decoder(t, tokens, parents, out);
  };
  auto result = beam_search(lengths, options, step);
  if (calls != nullptr) *calls = decoder.calls();
  return result;
}

// P(a) = .6, P(b) = .4 first; after a: .4 </s>, .3 a, .3 b; after b: .9 </s>; then </s>.
// Greedy takes a and ends with .24; the best sequence is b (.36).
std::vector<double> greedy_trap(int, const Tokens& prefix) {
  if (prefix.empty()) return {1e-9, 0.6, 0.4, 1e-9};
  if (prefix == Tokens{1}) return {0.4, 0.3, 0.3, 1e-9};
  if (prefix == Tokens{2}) return {0.9, 0.05, 0.05, 1e-9};
  return {0.98, 0.01, 0.01, 1e-9};
}

TEST(BeamSearch, GreedyDiffersFromBeamWhereTheBestIsKnown) {
  const auto greedy = run_search({4}, options_for(1, LengthNormalization::none), greedy_trap);
  ASSERT_EQ(greedy.size(), 1u);
  ASSERT_EQ(greedy[0].size(), 1u);
  EXPECT_EQ(greedy[0][0].tokens, Tokens{1});
  EXPECT_NEAR(greedy[0][0].log_prob, std::log(0.6 * 0.4), 1e-6);
  const auto beam = run_search({4}, options_for(2, LengthNormalization::none), greedy_trap);
  EXPECT_EQ(beam[0][0].tokens, Tokens{2});
  EXPECT_NEAR(beam[0][0].log_prob, std::log(0.4 * 0.9), 1e-6);
  EXPECT_EQ(beam[0][1].tokens, Tokens{1});  // the n-best list, best first
  EXPECT_EQ(best_tokens(beam), std::vector<Tokens>{Tokens{2}});
}

// Seeded distributions over </s>, a, b that depend on the whole prefix (and the sentence).
std::vector<double> random_table(int sentence, const Tokens& prefix) {
  uint64_t key = 1469598103934665603ull ^ uint64_t(sentence);
  for (int32_t token : prefix) key = layers::mix64(key * 31 + uint64_t(token));
  std::vector<double> p(kVocab, 1e-12);
  double sum = 0;
  for (int v = 0; v < 3; ++v) sum += p[size_t(v)] = 0.05 + layers::random_uniform(key, 7, uint64_t(v));
  for (int v = 0; v < 3; ++v) p[size_t(v)] /= sum;
  return p;
}

// Every sequence of a/b up to `bound` tokens, then </s> (forced at the bound).
Hypothesis exhaustive_best(int sentence, int bound, const BeamSearchOptions& options) {
  Hypothesis best{{}, 0, -1e300};
  std::function<void(Tokens, double)> visit = [&](Tokens prefix, double log_prob) {
    const std::vector<double> p = random_table(sentence, prefix);
    const double finished = log_prob + double(float(std::log(p[kEos])));
    const double score = finished / length_penalty(int(prefix.size()) + 1, options);
    if (score > best.score) best = {prefix, finished, score};
    if (int(prefix.size()) == bound) return;
    for (int32_t v : {1, 2}) {
      Tokens longer = prefix;
      longer.push_back(v);
      visit(longer, log_prob + double(float(std::log(p[size_t(v)]))));
    }
  };
  visit({}, 0.0);
  return best;
}

TEST(BeamSearch, WideBeamEqualsExhaustiveSearch) {
  for (LengthNormalization normalization :
       {LengthNormalization::none, LengthNormalization::gnmt, LengthNormalization::average}) {
    BeamSearchOptions options = options_for(64, normalization);  // wider than the 2^4 prefixes
    options.max_length_ratio = 1.0;
    for (int sentence = 0; sentence < 6; ++sentence) {
      const auto result = run_search({4}, options, random_table, sentence);
      const Hypothesis expected = exhaustive_best(sentence, 4, options);
      ASSERT_FALSE(result[0].empty());
      EXPECT_EQ(result[0][0].tokens, expected.tokens) << "sentence " << sentence << " normalization " << int(normalization);
      EXPECT_NEAR(result[0][0].score, expected.score, 1e-9);
      for (size_t i = 1; i < result[0].size(); ++i) EXPECT_GE(result[0][i - 1].score, result[0][i].score);
    }
  }
}

TEST(BeamSearch, BatchedEqualsOneSentenceAtATime) {
  BeamSearchOptions options = options_for(3, LengthNormalization::gnmt);
  const std::vector<int> lengths = {5, 1, 3, 8, 2};
  const auto batched = run_search(lengths, options, random_table);
  for (size_t b = 0; b < lengths.size(); ++b) {
    const auto alone = run_search({lengths[b]}, options, random_table, int(b));
    ASSERT_EQ(batched[b].size(), alone[0].size()) << b;
    for (size_t i = 0; i < alone[0].size(); ++i) {
      EXPECT_EQ(batched[b][i].tokens, alone[0][i].tokens) << b;
      EXPECT_EQ(batched[b][i].log_prob, alone[0][i].log_prob) << b;
      EXPECT_EQ(batched[b][i].score, alone[0][i].score) << b;
    }
  }
}

// </s> is nearly impossible: every hypothesis runs to the bound and is ended there.
std::vector<double> never_ends(int sentence, const Tokens&) {
  if (sentence == 1) return {1.0 - 2e-9, 1e-9, 1e-9, 1e-12};  // sentence 1 ends at once
  return {1e-9, 0.7, 0.3 - 1e-9, 1e-12};
}

TEST(BeamSearch, EndOfSentenceAndLengthBound) {
  BeamSearchOptions options = options_for(2, LengthNormalization::none);
  options.max_length_ratio = 1.5;  // source 2 -> at most 3 tokens
  EXPECT_EQ(max_output_length(2, options), 3);
  EXPECT_EQ(max_output_length(0, options), 1);
  int calls = 0;
  const auto result = run_search({2, 2}, options, never_ends, 0, &calls);
  EXPECT_EQ(result[0][0].tokens, (Tokens{1, 1, 1}));  // </s> forced after 3 tokens, not kept
  EXPECT_EQ(result[1][0].tokens, Tokens{});            // </s> first: an empty translation
  EXPECT_NEAR(result[1][0].log_prob, std::log(1.0 - 2e-9), 1e-6);
  EXPECT_EQ(calls, 4);  // steps 0..3; sentence 1 finished at step 0 and waited
  options.max_length_offset = 2;
  EXPECT_EQ(run_search({2}, options, never_ends)[0][0].tokens.size(), 5u);
}

// </s> .6 or a .4 first; after a, a; after a a, </s>. Raw log-probabilities prefer the empty
// output (log .6), the mean per token prefers "a a" (log .4 / 3).
std::vector<double> short_or_long(int, const Tokens& prefix) {
  if (prefix.empty()) return {0.6, 0.4 - 1e-9, 1e-9, 1e-12};
  if (prefix.size() == 1) return {1e-9, 1.0 - 2e-9, 1e-9, 1e-12};
  return {1.0 - 2e-9, 1e-9, 1e-9, 1e-12};
}

TEST(BeamSearch, LengthNormalization) {
  EXPECT_EQ(run_search({5}, options_for(2, LengthNormalization::none), short_or_long)[0][0].tokens, Tokens{});
  EXPECT_EQ(run_search({5}, options_for(2, LengthNormalization::average), short_or_long)[0][0].tokens, (Tokens{1, 1}));
  BeamSearchOptions gnmt = options_for(2, LengthNormalization::gnmt);
  gnmt.alpha = 0.6;
  EXPECT_NEAR(length_penalty(3, gnmt), std::pow(8.0 / 6.0, 0.6), 1e-15);
  EXPECT_EQ(length_penalty(3, options_for(2, LengthNormalization::average)), 3.0);
  EXPECT_EQ(length_penalty(3, options_for(2, LengthNormalization::none)), 1.0);
}

TEST(BeamSearch, RejectsBadOptionsAndBadCallbacks) {
  const auto no_output = [](int, const Tokens&, const std::vector<int32_t>&, std::vector<float>&) {};
  EXPECT_THROW(beam_search({3}, options_for(2, LengthNormalization::none), no_output), std::invalid_argument);
  BeamSearchOptions bad = options_for(0, LengthNormalization::none);
  EXPECT_THROW(beam_search({3}, bad, no_output), std::invalid_argument);
  bad = options_for(2, LengthNormalization::none);
  bad.eos_id = kVocab;
  EXPECT_THROW(beam_search({3}, bad, no_output), std::invalid_argument);
  bad = options_for(2, LengthNormalization::none);
  bad.max_length_ratio = 0;
  EXPECT_THROW(beam_search({3}, bad, no_output), std::invalid_argument);
  EXPECT_TRUE(beam_search({}, options_for(2, LengthNormalization::none), no_output).empty());
}

}  // namespace
}  // namespace rnnlab::trainer
