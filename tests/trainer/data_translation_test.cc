// Translation pairs (trainer/data/translation_text.h, translation_data.h): the reader's
// counted skips, tokenizing, the two vocabularies, the length bound, splits by shuffle and
// by group, padded batches, the generated tasks, and the fetched Bible when it is there.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "trainer/data/datasets.h"
#include "trainer/data/translation_data.h"
#include "trainer/data/utf8.h"

namespace rnnlab::trainer::data {
namespace {

namespace fs = std::filesystem;
using Tokens = std::vector<std::string>;

// `action` must throw std::invalid_argument whose message holds `part`.
template <typename Action>
void expect_invalid(Action action, const std::string& part) {
  try {
    action();
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what();
    return;
  }
  ADD_FAILURE() << "expected std::invalid_argument saying '" << part << "'";
}

class PairFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() /
              ("rnnlab_translation_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }
  std::string write(const std::string& content) {
    const std::string path = (folder_ / "pairs.tsv").string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  fs::path folder_;
};

TEST_F(PairFileTest, SkipsAndCountsMalformedLinesNamingFileAndLine) {
  const std::string path = write(
      "\xEF\xBB\xBFhello world\thola mundo\r\n"
      "no tab here\n"
      "\n"
      "  \tvacío\n"
      "empty target\t   \n"
      "a\tb\tGenesis 1:1\n"
      "a\tb\tc\td\n"
      "last\túltimo");
  const PairFile file = read_translation_pairs(path);
  ASSERT_EQ(file.pairs.size(), 3u);
  EXPECT_EQ(file.pairs[0].source, "hello world");
  EXPECT_EQ(file.pairs[0].target, "hola mundo");
  EXPECT_EQ(file.pairs[0].line, 1);
  EXPECT_EQ(file.pairs[1].key, "Genesis 1:1");
  EXPECT_EQ(file.pairs[2].line, 8);
  EXPECT_EQ(file.skipped, 4);
  ASSERT_EQ(file.messages.size(), 4u);
  EXPECT_EQ(file.messages[0], path + ":2: expected 'source<TAB>target', found no tab (skipped)");
  EXPECT_EQ(file.messages[1], path + ":4: empty source side (skipped)");
  EXPECT_EQ(file.messages[2], path + ":5: empty target side (skipped)");
  EXPECT_NE(file.messages[3].find(":7: expected 'source<TAB>target[<TAB>key]', found 4 columns"), std::string::npos);
}

TEST_F(PairFileTest, FilesWithoutPairsAreRefusedByName) {
  const std::string path = write("one\ntwo\n");
  expect_invalid([&] { read_translation_pairs(path); }, path + "' holds no source<TAB>target pairs");
  expect_invalid([&] { read_translation_pairs(path); }, ":1: expected");
  EXPECT_THROW(read_translation_pairs(folder_.string()), std::invalid_argument);
  EXPECT_THROW(read_translation_pairs((folder_ / "missing.tsv").string()), std::invalid_argument);
  EXPECT_EQ(key_group("I Samuel 23:28"), "I Samuel");
  EXPECT_EQ(key_group("alone"), "alone");
}

TEST(PairTokenizer, WordsPunctuationAndCase) {
  const PairTokenizer words{Tokenizer::Level::word, true};
  EXPECT_EQ(words.split("¿Conque Dios os ha dicho: No comáis?"),
            (Tokens{"¿", "conque", "dios", "os", "ha", "dicho", ":", "no", "comáis", "?"}));
  EXPECT_EQ(words.split("ÉL DIJO «sí»—the fish's tail."),
            (Tokens{"él", "dijo", "«", "sí", "»", "—", "the", "fish's", "tail", "."}));
  EXPECT_EQ(words.join({"y", "fué", "la", "luz", "."}), "y fué la luz .");
  const PairTokenizer cased{Tokenizer::Level::word, false};
  EXPECT_EQ(cased.split("EN el"), (Tokens{"EN", "el"}));
  const PairTokenizer characters{Tokenizer::Level::character, false};
  EXPECT_EQ(characters.split("  Sí,\t señor "), (Tokens{"S", "í", ",", " ", "s", "e", "ñ", "o", "r"}));
  EXPECT_EQ(characters.join(characters.split("Sí, señor")), "Sí, señor");
  EXPECT_EQ(PairTokenizer::from_json(characters.to_json()).level, Tokenizer::Level::character);
  EXPECT_EQ(lower_case(U'Ñ'), U'ñ');
  EXPECT_EQ(encode_utf8(decode_utf8("ok \xFF\xC3 ñ")), "ok \xFF\xC3 ñ");  // invalid bytes survive
}

TEST(SideCodec, SpecialsFirstThenCountsWithLimits) {
  const PairTokenizer words;
  const std::vector<Tokens> sentences = {{"b", "a", "a"}, {"c", "a", "b"}, {"d"}};
  const SideCodec all = SideCodec::build(words, sentences, 0, 1, "source");
  EXPECT_EQ(all.vocabulary.tokens(), (Tokens{"<pad>", "<unk>", "<s>", "</s>", "a", "b", "c", "d"}));
  const SideCodec limited = SideCodec::build(words, sentences, 6, 1, "source");  // 4 specials + 2
  EXPECT_EQ(limited.vocabulary.tokens(), (Tokens{"<pad>", "<unk>", "<s>", "</s>", "a", "b"}));
  EXPECT_EQ(limited.encode({"a", "d", "zzz"}), (std::vector<int32_t>{4, SideCodec::kUnkId, SideCodec::kUnkId}));
  const SideCodec frequent = SideCodec::build(words, sentences, 0, 2, "target");
  EXPECT_EQ(frequent.vocabulary.size(), 6);  // a (3), b (2)
  EXPECT_EQ(frequent.decode({SideCodec::kBosId, 4, 5, SideCodec::kEosId, SideCodec::kPadId}), "a b");
  const SideCodec loaded = SideCodec::from_json(frequent.to_json());
  EXPECT_EQ(loaded.vocabulary.tokens(), frequent.vocabulary.tokens());
  expect_invalid([&] { SideCodec::build(words, sentences, 4, 1, "target"); }, "target side: key 'data.max_vocab'");
  EXPECT_THROW(SideCodec::from_json(nlohmann::json{{"tokenizer", words.to_json()}}), std::invalid_argument);
}

std::vector<TranslationPair> numbered_pairs(int count) {
  std::vector<TranslationPair> pairs;
  for (int i = 0; i < count; ++i) {
    std::string source = "w" + std::to_string(i), target = "v" + std::to_string(i % 3);
    for (int k = 0; k < i % 7; ++k) source += " x";
    for (int k = 0; k < i % 5; ++k) target += " y";
    const std::string book = i < count / 2 ? "Genesis" : (i < 3 * count / 4 ? "I Samuel" : "Ruth");
    pairs.push_back({source, target, book + " 1:" + std::to_string(i + 1), i + 1});
  }
  return pairs;
}

TranslationOptions no_held_out() {
  TranslationOptions options;
  options.val_fraction = 0;
  options.test_fraction = 0;
  return options;
}

TEST(TranslationCorpus, SeparateVocabulariesAndTheLengthBound) {
  TranslationOptions options = no_held_out();
  options.max_length = 4;
  const std::vector<TranslationPair> pairs = numbered_pairs(40);
  const TranslationCorpus corpus = TranslationCorpus::build(pairs, options, "numbered");
  EXPECT_FALSE(corpus.source_codec().vocabulary.contains("y"));
  EXPECT_FALSE(corpus.target_codec().vocabulary.contains("x"));
  int64_t over = 0;
  for (const TranslationPair& pair : pairs) {
    const auto length = [&](const std::string& text) { return int(options.tokenizer.split(text).size()); };
    over += length(pair.source) > 4 || length(pair.target) > 4 ? 1 : 0;
  }
  EXPECT_GT(over, 0);
  EXPECT_EQ(corpus.too_long(Split::train), over);
  EXPECT_EQ(int64_t(corpus.pairs(Split::train).size()), 40 - over);
  for (const EncodedPair& pair : corpus.pairs(Split::train)) {  // kept whole, never cut
    EXPECT_EQ(pair.source.size(), options.tokenizer.split(pairs[size_t(pair.pair)].source).size());
    EXPECT_LE(pair.source.size(), 4u);
  }
  EXPECT_EQ(corpus.metadata()["too_long"][0], over);
  // Held-out pairs over the bound stay (and are counted).
  options.test_fraction = 0.5;
  const TranslationCorpus held = TranslationCorpus::build(pairs, options, "numbered");
  EXPECT_GT(held.too_long(Split::test), 0);
  EXPECT_EQ(held.pairs(Split::test).size(), 20u);
  options.max_length = 0;
  EXPECT_EQ(TranslationCorpus::build(pairs, options, "numbered").too_long(Split::train), 0);
  options.max_length = 1;
  options.test_fraction = 0;
  expect_invalid([&] { TranslationCorpus::build({{"a b", "c d", "", 1}}, options, "tiny.tsv"); }, "key 'data.max_length'");
  // A side of only non-ASCII spaces has no token: left out and counted.
  options.max_length = 0;
  const TranslationCorpus spaces = TranslationCorpus::build({{"a", "\u00a0", "", 1}, {"a", "b", "", 2}}, options, "t");
  EXPECT_EQ(spaces.no_tokens(), 1);
  EXPECT_EQ(spaces.pairs(Split::train).size(), 1u);
}

TEST(TranslationCorpus, TrainedCodecsMapUnseenTokensToUnk) {
  const TranslationCorpus first = TranslationCorpus::build(numbered_pairs(10), no_held_out(), "numbered");
  const TranslationCorpus again =
      TranslationCorpus::build_trained({{"w3 new", "v1 y", "", 1}}, no_held_out(), "other.tsv", first.metadata());
  EXPECT_EQ(again.pairs(Split::train)[0].source[1], SideCodec::kUnkId);
  EXPECT_EQ(again.target_codec().vocabulary.tokens(), first.target_codec().vocabulary.tokens());
  EXPECT_THROW(TranslationCorpus::build_trained(numbered_pairs(3), no_held_out(), "x", nlohmann::json::object()),
               std::invalid_argument);
}

TEST(TranslationSplits, SeededShuffleAndGroups) {
  const std::vector<TranslationPair> pairs = numbered_pairs(100);
  TranslationOptions options;
  options.val_fraction = 0.1;
  options.test_fraction = 0.2;
  const std::vector<Split> shuffled = assign_translation_splits(pairs, options, "numbered");
  EXPECT_EQ(std::count(shuffled.begin(), shuffled.end(), Split::test), 20);
  EXPECT_EQ(std::count(shuffled.begin(), shuffled.end(), Split::val), 10);
  EXPECT_EQ(assign_translation_splits(pairs, options, "numbered"), shuffled);
  options.split_seed = 7;
  EXPECT_NE(assign_translation_splits(pairs, options, "numbered"), shuffled);

  options.split_by = TranslationOptions::SplitBy::group;
  options.test_groups = {"Ruth"};
  options.val_groups = {"I Samuel"};
  const std::vector<Split> named = assign_translation_splits(pairs, options, "numbered");
  for (size_t i = 0; i < pairs.size(); ++i) {
    const std::string group = key_group(pairs[i].key);
    EXPECT_EQ(named[i], group == "Ruth" ? Split::test : group == "I Samuel" ? Split::val : Split::train) << i;
  }
  options.test_groups = {"Exodus"};
  expect_invalid([&] { assign_translation_splits(pairs, options, "numbered"); },
                 "split group 'Exodus' is not in numbered (its groups: Genesis, I Samuel, Ruth)");
  // Seeded groups: whole books, at least the fraction each.
  options.test_groups.clear();
  options.val_groups.clear();
  const std::vector<Split> seeded = assign_translation_splits(pairs, options, "numbered");
  std::map<std::string, std::set<Split>> splits_of;
  for (size_t i = 0; i < pairs.size(); ++i) splits_of[key_group(pairs[i].key)].insert(seeded[i]);
  for (const auto& [group, splits] : splits_of) EXPECT_EQ(splits.size(), 1u) << group;
  EXPECT_GE(std::count(seeded.begin(), seeded.end(), Split::test), 20);
  EXPECT_GE(std::count(seeded.begin(), seeded.end(), Split::val), 10);
  std::vector<TranslationPair> keyless = pairs;
  keyless[3].key.clear();
  EXPECT_THROW(assign_translation_splits(keyless, options, "numbered"), std::invalid_argument);
  EXPECT_THROW(parse_split_by("book"), std::invalid_argument);
}

TEST(TranslationBatches, PaddedShiftedAndShardedExactlyOnce) {
  const TranslationCorpus corpus = TranslationCorpus::build(numbered_pairs(50), no_held_out(), "numbered");
  const auto& pairs = corpus.pairs(Split::train);
  std::multiset<int64_t> seen;
  int64_t targets = 0;
  for (const TranslationBatch& batch : corpus.batches(Split::train, {8, 3, 0, 0, 1, true})) {
    const size_t N = size_t(batch.batch_size);
    for (size_t n = 0; n < N; ++n) {
      const EncodedPair& pair = pairs[size_t(batch.examples[n])];
      seen.insert(batch.examples[n]);
      ASSERT_EQ(size_t(batch.source_lengths[n]), pair.source.size());
      ASSERT_EQ(size_t(batch.target_lengths[n]), pair.target.size() + 1);
      for (size_t t = 0; t < size_t(batch.source_len); ++t) {
        EXPECT_EQ(batch.source[t * N + n], t < pair.source.size() ? pair.source[t] : SideCodec::kPadId);
      }
      EXPECT_EQ(batch.target_in[n], SideCodec::kBosId);
      for (size_t t = 0; t < size_t(batch.target_len); ++t) {
        const size_t m = pair.target.size();
        if (t > 0) {
          EXPECT_EQ(batch.target_in[t * N + n], t <= m ? pair.target[t - 1] : SideCodec::kPadId);
        }
        EXPECT_EQ(batch.target_out[t * N + n], t < m ? pair.target[t] : t == m ? SideCodec::kEosId : kIgnoreIndex);
      }
    }
    EXPECT_EQ(batch.local_targets, batch.global_targets);
    targets += batch.local_targets;
  }
  EXPECT_EQ(seen.size(), pairs.size());
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), pairs.size());
  // Two ranks: disjoint shares of the same steps, the same global target counts.
  const auto rank0 = corpus.batches(Split::train, {4, 3, 0, 0, 2, true});
  const auto rank1 = corpus.batches(Split::train, {4, 3, 0, 1, 2, true});
  ASSERT_EQ(rank0.size(), rank1.size());
  int64_t sharded = 0;
  for (size_t i = 0; i < rank0.size(); ++i) {
    EXPECT_EQ(rank0[i].global_targets, rank1[i].global_targets);
    EXPECT_EQ(rank0[i].local_targets + rank1[i].local_targets, rank0[i].global_targets);
    sharded += rank0[i].local_targets + rank1[i].local_targets;
  }
  EXPECT_EQ(sharded, targets);
  // Seeded: another epoch, another order; the same epoch, the same batches.
  EXPECT_NE(corpus.batches(Split::train, {8, 3, 1, 0, 1, true})[0].examples,
            corpus.batches(Split::train, {8, 3, 0, 0, 1, true})[0].examples);
  EXPECT_EQ(corpus.batches(Split::train, {8, 3, 0, 0, 1, true})[0].examples,
            corpus.batches(Split::train, {8, 3, 0, 0, 1, true})[0].examples);
}

TEST(GeneratedPairs, ReverseAndSortFromTheSeed) {
  GeneratedPairsOptions options;
  options.count = 200;
  options.min_length = 2;
  options.max_length = 6;
  options.seed = 11;
  const PairTokenizer words;
  std::set<size_t> lengths;
  for (const TranslationPair& pair : generate_symbol_pairs(options)) {
    Tokens source = words.split(pair.source);
    lengths.insert(source.size());
    std::reverse(source.begin(), source.end());
    EXPECT_EQ(words.split(pair.target), source);
  }
  EXPECT_EQ(lengths, (std::set<size_t>{2, 3, 4, 5, 6}));
  EXPECT_EQ(generate_symbol_pairs(options)[7].source, generate_symbol_pairs(options)[7].source);
  GeneratedPairsOptions other = options;
  other.seed = 12;
  EXPECT_NE(generate_symbol_pairs(other)[0].source + generate_symbol_pairs(other)[1].source,
            generate_symbol_pairs(options)[0].source + generate_symbol_pairs(options)[1].source);
  options.kind = parse_generated_kind("sort");
  options.symbols = 30;  // beyond 26: s0 .. s29, sorted by number
  for (const TranslationPair& pair : generate_symbol_pairs(options)) {
    std::vector<int> values;
    for (const std::string& token : words.split(pair.target)) values.push_back(std::stoi(token.substr(1)));
    EXPECT_TRUE(std::is_sorted(values.begin(), values.end())) << pair.target;
    EXPECT_EQ(words.split(pair.source).size(), values.size());
  }
  options.min_length = 0;
  EXPECT_THROW(generate_symbol_pairs(options), std::invalid_argument);
  EXPECT_THROW(parse_generated_kind("shuffle"), std::invalid_argument);
}

// The fetched Bible (tools/fetch-data bible_en_es), when RNNLAB_DATA has it.
TEST(RealTranslationData, BibleEnglishSpanish) {
  const DatasetInfo& bible = find_dataset("bible_en_es");
  if (!dataset_fetched(bible)) {
    GTEST_SKIP() << "SKIPPED: bible_en_es is not fetched in " << data_root() << " (tools/fetch-data bible_en_es)";
  }
  const PairFile file = read_translation_pairs(dataset_path(bible));
  std::printf("bible_en_es: %zu pairs, %lld skipped\n", file.pairs.size(), static_cast<long long>(file.skipped));
  EXPECT_EQ(file.pairs.size(), 30226u);
  EXPECT_EQ(file.skipped, 0);
  EXPECT_EQ(file.pairs.front().key, "Genesis 1:1");
  EXPECT_EQ(file.pairs.back().key, "Revelation of John 22:21");
  TranslationOptions options;
  options.split_by = TranslationOptions::SplitBy::group;
  options.test_groups = {"Ruth", "Jonah"};
  options.val_groups = {"Jude"};
  options.max_length = 60;
  options.source_max_vocab = options.target_max_vocab = 8000;
  const TranslationCorpus corpus = TranslationCorpus::build(file.pairs, options, dataset_path(bible));
  std::printf("bible_en_es by book: train %zu (left out %lld over 60 words), val %zu, test %zu; vocabularies %d / %d\n",
              corpus.pairs(Split::train).size(), static_cast<long long>(corpus.too_long(Split::train)),
              corpus.pairs(Split::val).size(), corpus.pairs(Split::test).size(), corpus.source_codec().vocabulary.size(),
              corpus.target_codec().vocabulary.size());
  // Ruth's 85 verses and Jonah 3-4's 21 (chapters 1-2 are left out around the empty 1:17).
  EXPECT_EQ(corpus.pairs(Split::test).size(), 85u + 21u);
  EXPECT_EQ(corpus.pairs(Split::val).size(), 25u);         // Jude
  EXPECT_EQ(corpus.target_codec().vocabulary.size(), 8000);
}

}  // namespace
}  // namespace rnnlab::trainer::data
