// BLEU, chrF and exact match (trainer/translation_metrics.h): hand-worked cases, sacrebleu's
// published numbers, additivity of the statistics, and NLTK's corpus_bleu on a seeded
// corpus through tests/trainer/nltk_bleu.py (which also checks the 13a tokens against a
// transcription of sacrebleu's regular expressions).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "layers/random.h"
#include "trainer/translation_metrics.h"

#ifndef RNNLAB_NLTK_SCRIPT
#error "RNNLAB_NLTK_SCRIPT must be defined by tests/trainer/CMakeLists.txt"
#endif

namespace rnnlab::trainer {
namespace {

using Tokens = std::vector<std::string>;

TEST(Tokenize13a, SplitsPunctuationButNotNumbers) {
  EXPECT_EQ(tokenize_13a("Hello, world!"), (Tokens{"Hello", ",", "world", "!"}));
  EXPECT_EQ(tokenize_13a("It costs $3.50, or 1,000 yen."),
            (Tokens{"It", "costs", "$", "3.50", ",", "or", "1,000", "yen", "."}));
  EXPECT_EQ(tokenize_13a("1990-2000 and well-known"), (Tokens{"1990", "-", "2000", "and", "well-known"}));
  EXPECT_EQ(tokenize_13a("&quot;a&quot; &amp; b<skipped>"), (Tokens{"\"", "a", "\"", "&", "b"}));
  EXPECT_EQ(tokenize_13a("It wasn't (really) e.g. so"),
            (Tokens{"It", "wasn't", "(", "really", ")", "e", ".", "g", ".", "so"}));
  EXPECT_EQ(tokenize_13a("  ¿Qué?\u00a0¡Sí!  "), (Tokens{"¿Qué", "?", "¡Sí", "!"}));
  EXPECT_EQ(tokenize_13a(""), Tokens{});
}

TEST(Bleu, PerfectMatchIsOne) {
  const BleuScore score = corpus_bleu_13a({"the cat sat on the mat .", "a dog barked"},
                                          {"the cat sat on the mat .", "a dog barked"});
  // The second sentence has no 4-gram but the corpus does: every precision is 1.
  EXPECT_DOUBLE_EQ(score.bleu, 1.0);
  EXPECT_DOUBLE_EQ(score.brevity_penalty, 1.0);
}

TEST(Bleu, NoFourGramMatchIsZeroWithoutSmoothing) {
  // 4-grams of the hypothesis: "a b c d", "b c d e"; the reference has neither.
  const BleuStats stats = bleu_statistics_13a("a b c d e", {"a b c x d e"});
  EXPECT_EQ(stats.matches(1), 5);
  EXPECT_EQ(stats.matches(2), 3);  // a b, b c, d e
  EXPECT_EQ(stats.matches(3), 1);  // a b c
  EXPECT_EQ(stats.matches(4), 0);
  EXPECT_EQ(stats.totals(4), 2);
  EXPECT_EQ(bleu_score(stats).bleu, 0.0);
  // floor: 0.1 / 2 for the 4-grams; BP = exp(1 - 6/5).
  const double floor = std::exp(1.0 - 6.0 / 5.0) * std::pow(1.0 * 0.75 * (1.0 / 3.0) * 0.05, 0.25);
  EXPECT_NEAR(bleu_score(stats, {BleuSmoothing::floor, 0.1}).bleu, floor, 1e-15);
  // exp: 1 / (2 * 2) for the first order without a match.
  const double exp = std::exp(1.0 - 6.0 / 5.0) * std::pow(1.0 * 0.75 * (1.0 / 3.0) * 0.25, 0.25);
  EXPECT_NEAR(bleu_score(stats, {BleuSmoothing::exp, 0.1}).bleu, exp, 1e-15);
}

TEST(Bleu, BrevityPenalty) {
  const BleuScore score = corpus_bleu_13a({"a b c d"}, {"a b c d e f g h"});
  for (double precision : score.precisions) EXPECT_DOUBLE_EQ(precision, 1.0);
  EXPECT_NEAR(score.brevity_penalty, std::exp(-1.0), 1e-15);
  EXPECT_NEAR(score.bleu, std::exp(-1.0), 1e-15);
  EXPECT_DOUBLE_EQ(score.length_ratio, 0.5);
  // Longer than the reference: no penalty, the precision pays instead.
  EXPECT_DOUBLE_EQ(corpus_bleu_13a({"a b c d e f g h"}, {"a b c d"}).brevity_penalty, 1.0);
  EXPECT_EQ(corpus_bleu_13a({""}, {"a b c d"}).bleu, 0.0);
}

// sacrebleu's README example (two references): "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943
// ratio = 0.944 hyp_len = 17 ref_len = 18)".
TEST(Bleu, SacrebleuReadmeExample) {
  const std::vector<std::string> hypotheses = {"The dog bit the man.", "It wasn't surprising.",
                                               "The man had just bitten him."};
  const std::vector<std::vector<std::string>> references = {
      {"The dog bit the man.", "The dog had bit the man."},
      {"It was not unexpected.", "No one was surprised."},
      {"The man bit him first.", "The man had bitten the dog."}};
  BleuStats stats;
  for (size_t i = 0; i < hypotheses.size(); ++i) stats += bleu_statistics_13a(hypotheses[i], references[i]);
  EXPECT_EQ(stats.hypothesis_length(), 17);
  EXPECT_EQ(stats.reference_length(), 18);
  const int matches[] = {14, 7, 5, 3}, totals[] = {17, 14, 11, 8};
  for (int n = 1; n <= kBleuOrder; ++n) {
    EXPECT_EQ(stats.matches(n), matches[n - 1]) << n;
    EXPECT_EQ(stats.totals(n), totals[n - 1]) << n;
  }
  EXPECT_NEAR(100 * bleu_score(stats).bleu, 48.53, 0.005);
  EXPECT_NEAR(bleu_score(stats).brevity_penalty, 0.943, 0.0005);
}

TEST(Bleu, StatisticsAddOverBatchesAndRoundTrip) {
  const std::vector<std::string> hypotheses = {"one two three four", "five six seven", "eight nine ten eleven twelve"};
  const std::vector<std::string> references = {"one two four three", "five six seven eight", "eight nine ten"};
  BleuStats whole, first, second;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const BleuStats sentence = bleu_statistics_13a(hypotheses[i], {references[i]});
    whole += sentence;
    (i == 0 ? first : second) += sentence;
  }
  // As two ranks' sums would be all-reduced.
  std::vector<double> reduced = first.to_vector();
  const std::vector<double> other = second.to_vector();
  for (size_t i = 0; i < reduced.size(); ++i) reduced[i] += other[i];
  EXPECT_EQ(BleuStats::from_vector(reduced).counts, whole.counts);
  EXPECT_DOUBLE_EQ(bleu_score(BleuStats::from_vector(reduced)).bleu, corpus_bleu_13a(hypotheses, references).bleu);
  EXPECT_THROW(BleuStats::from_vector({1, 2, 3}), std::invalid_argument);
  EXPECT_THROW(corpus_bleu_13a({"a"}, {}), std::invalid_argument);
  EXPECT_THROW(bleu_statistics({"a"}, {}), std::invalid_argument);
}

// The numbers of the chrF metric card of Hugging Face datasets, computed by sacrebleu 2.
TEST(Chrf, SacrebleuNumbers) {
  EXPECT_NEAR(corpus_chrf({"The relationship between Obama and Netanyahu is not exactly friendly."},
                          {"The ties between Obama and Netanyahu are not particularly friendly."}),
              0.61576379378113785, 1e-12);
  EXPECT_NEAR(corpus_chrf({"The relationship between cats and dogs is not exactly friendly.",
                           "a good bookshop is just a genteel black hole that knows how to read."},
                          {"The relationship between dogs and cats is not exactly friendly.",
                           "A good bookshop is just a genteel Black Hole that knows how to read."}),
              0.8464214891738334, 1e-12);
}

TEST(Chrf, HandWorked) {
  EXPECT_DOUBLE_EQ(corpus_chrf({"el señor"}, {"el  señor"}), 1.0);  // whitespace is ignored
  EXPECT_EQ(corpus_chrf({"abc"}, {"xyz"}), 0.0);
  EXPECT_EQ(corpus_chrf({""}, {"xyz"}), 0.0);
  // "ab" vs "abc": orders 1 and 2 have n-grams on both sides. P = (1 + 1) / 2 = 1,
  // R = (2/3 + 1/2) / 2 = 7/12; F2 = 5 P R / (4 P + R).
  const ChrfStats stats = chrf_statistics("ab", "abc");
  EXPECT_EQ(stats.hypothesis(1), 2);
  EXPECT_EQ(stats.reference(3), 1);
  EXPECT_EQ(stats.matches(2), 1);
  const double recall = 7.0 / 12.0;
  EXPECT_NEAR(chrf_score(stats), 5 * recall / (4 + recall), 1e-15);
  // Code points, not bytes: "ñ" is one character, so "añ" has one bigram.
  EXPECT_EQ(chrf_statistics("añ", "añ").hypothesis(2), 1);
  EXPECT_THROW(ChrfStats::from_vector({1}), std::invalid_argument);
}

TEST(ExactMatch, CountsWholeSequences) {
  EXPECT_DOUBLE_EQ(exact_match({{1, 2}, {3}, {4, 5}}, {{1, 2}, {3, 4}, {4, 5}}), 2.0 / 3.0);
  EXPECT_EQ(exact_match({}, {}), 0.0);
  EXPECT_THROW(exact_match({{1}}, {}), std::invalid_argument);
}

// ---- against NLTK ----

const std::vector<std::string> kSentences = {
    "In the beginning God created the heaven and the earth.",
    "And God said, Let there be light: and there was light.",
    "It costs $3.50, or 1,000 yen (about 7 euros) in 1990-2000.",
    "\"Where are you going?\" she asked; he didn't answer.",
    "The well-known author wrote e.g. three books & two plays.",
    "¿Conque Dios os ha dicho: No comáis de todo árbol del huerto?",
    "Y dijo Dios: Sea la luz: y fué la luz.",
    "Numbers like 3.14159 and 2,718 stay whole, but not this. Or this,",
    "A/B testing at 50% [roughly] {always} works ~ sometimes.",
    "Him that overcometh will I make a pillar in the temple of my God.",
};

std::vector<std::string> words_of(const std::string& sentence) {
  std::istringstream in(sentence);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

// A hypothesis from a reference: words dropped, repeated, swapped or replaced by words of
// other sentences, at least 4 words kept (see translation_metrics.h on short hypotheses).
std::string perturb(const std::string& reference, layers::RandomStream& random, int edits) {
  std::vector<std::string> words = words_of(reference);
  for (int e = 0; e < edits; ++e) {
    const size_t at = size_t(random.next_below(words.size()));
    const std::vector<std::string> donor = words_of(kSentences[random.next_below(kSentences.size())]);
    switch (random.next_below(4)) {
      case 0: if (words.size() > 4) words.erase(words.begin() + long(at)); break;
      case 1: words.insert(words.begin() + long(at), words[at]); break;
      case 2: std::swap(words[at], words[size_t(random.next_below(words.size()))]); break;
      default: words[at] = donor[random.next_below(donor.size())]; break;
    }
  }
  return join(words);
}

struct Corpus {
  std::string name;
  std::vector<std::string> hypotheses;
  std::vector<std::vector<std::string>> references;
};

std::vector<Corpus> seeded_corpora() {
  layers::RandomStream random{20261204, 0, 0};
  Corpus dense{"dense", {}, {}}, multi{"multi", {}, {}}, reversed{"reversed", {}, {}};
  for (int i = 0; i < 150; ++i) {
    const std::string& reference = kSentences[random.next_below(kSentences.size())];
    dense.hypotheses.push_back(perturb(reference, random, int(random.next_below(4))));
    dense.references.push_back({reference});
  }
  for (int i = 0; i < 60; ++i) {
    const std::string& reference = kSentences[random.next_below(kSentences.size())];
    multi.hypotheses.push_back(perturb(reference, random, 2));
    multi.references.push_back({perturb(reference, random, 1), reference, perturb(reference, random, 3)});
  }
  for (size_t i : {0, 1, 5, 6}) {  // word order reversed: no 3- or 4-gram matches
    std::vector<std::string> words = words_of(kSentences[i]);
    std::reverse(words.begin(), words.end());
    reversed.hypotheses.push_back(join(words));
    reversed.references.push_back({kSentences[i]});
  }
  return {dense, multi, reversed};
}

TEST(Bleu, MatchesNltkCorpusBleu) {
  const std::vector<Corpus> corpora = seeded_corpora();
  const std::filesystem::path file = std::filesystem::temp_directory_path() / "rnnlab_nltk_bleu_corpus.tsv";
  {
    std::ofstream out(file, std::ios::binary);
    for (const Corpus& corpus : corpora) {
      for (size_t i = 0; i < corpus.hypotheses.size(); ++i) {
        out << corpus.name << '\t' << corpus.hypotheses[i];
        for (const std::string& reference : corpus.references[i]) out << '\t' << reference;
        out << '\n';
      }
    }
  }
  const std::string command = "/usr/bin/python3 '" + std::string(RNNLAB_NLTK_SCRIPT) + "' '" + file.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << command;
  std::string output;
  char buffer[4096];
  for (size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, got);
  const int status = pclose(pipe);
  std::filesystem::remove(file);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) GTEST_SKIP() << "SKIPPED LOUDLY: /usr/bin/python3 is missing";
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << "\n" << output;
  const nlohmann::json reference = nlohmann::json::parse(output);

  // 13a tokens, sentence by sentence, against the Python transcription.
  size_t line = 0;
  for (const Corpus& corpus : corpora) {
    for (size_t i = 0; i < corpus.hypotheses.size(); ++i, ++line) {
      EXPECT_EQ(tokenize_13a(corpus.hypotheses[i]), reference["tokens"][line][0].get<Tokens>()) << corpus.hypotheses[i];
      for (size_t r = 0; r < corpus.references[i].size(); ++r) {
        EXPECT_EQ(tokenize_13a(corpus.references[i][r]), reference["tokens"][line][1][r].get<Tokens>());
      }
    }
  }
  if (reference["bleu"].is_null()) {
    std::fprintf(stderr, "\n*** BLEU vs NLTK NOT CHECKED: nltk is missing (apt-get install python3-nltk) ***\n\n");
    GTEST_SKIP() << "SKIPPED LOUDLY: nltk is not installed for /usr/bin/python3 (tools/setup installs python3-nltk)";
  }
  for (const Corpus& corpus : corpora) {
    BleuStats stats;
    for (size_t i = 0; i < corpus.hypotheses.size(); ++i) stats += bleu_statistics_13a(corpus.hypotheses[i], corpus.references[i]);
    if (corpus.name == "reversed") {
      ASSERT_EQ(stats.matches(3) + stats.matches(4), 0) << "the corpus must exercise smoothing";
    } else {
      ASSERT_GT(stats.matches(4), 0);
    }
    const nlohmann::json& nltk = reference["bleu"][corpus.name];
    const BleuScore none = bleu_score(stats);
    const BleuScore floor = bleu_score(stats, {BleuSmoothing::floor, 0.1});
    const BleuScore exp = bleu_score(stats, {BleuSmoothing::exp, 0.1});
    std::printf("%-8s BLEU none %.12f (NLTK %.12f)  floor %.12f (NLTK %.12f)  exp %.12f (NLTK %.12f)\n",
                corpus.name.c_str(), none.bleu, nltk["none"].get<double>(), floor.bleu, nltk["floor"].get<double>(),
                exp.bleu, nltk["exp"].get<double>());
    EXPECT_NEAR(none.bleu, nltk["none"].get<double>(), 1e-6) << corpus.name;
    EXPECT_NEAR(floor.bleu, nltk["floor"].get<double>(), 1e-6) << corpus.name;
    EXPECT_NEAR(exp.bleu, nltk["exp"].get<double>(), 1e-6) << corpus.name;
  }
}

}  // namespace
}  // namespace rnnlab::trainer
