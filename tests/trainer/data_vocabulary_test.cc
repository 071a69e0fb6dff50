// Tokenizers, vocabularies and their JSON round trip (what checkpoints store).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "trainer/data/vocabulary.h"

namespace rnnlab::trainer::data {
namespace {

TEST(Tokenizer, CharacterSplitKeepsUtf8CodePointsWhole) {
  Tokenizer tokenizer{Tokenizer::Level::character, false};
  const auto tokens = tokenizer.split("a\xE2\x80\x94" "b\n");  // "a—b\n"
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens[1], "\xE2\x80\x94");
  EXPECT_EQ(tokens[3], "\n");
  EXPECT_EQ(tokenizer.join(tokens), "a\xE2\x80\x94" "b\n");
}

TEST(Tokenizer, WordSplitSeparatesPunctuationAndLowercases) {
  Tokenizer tokenizer{Tokenizer::Level::word, true};
  const std::vector<std::string> expected = {"call", "me", "ishmael", ".", "it's", "co", "-", "writer", "3"};
  EXPECT_EQ(tokenizer.split("Call me  Ishmael.\nIt's co-writer 3"), expected);
  EXPECT_EQ(tokenizer.join({"a", "b", "."}), "a b .");
}

TEST(Tokenizer, UnknownLevelNamesTheKey) {
  try {
    Tokenizer::parse_level("byte");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("data.level"), std::string::npos) << error.what();
  }
}

TEST(Vocabulary, OrdersSpecialsThenByCountThenBytes) {
  const std::map<std::string, int64_t> counts = {{"b", 2}, {"a", 2}, {"c", 5}, {"d", 1}};
  const Vocabulary vocabulary = Vocabulary::from_counts(counts, {true, true, 0, 1});
  const std::vector<std::string> expected = {"<pad>", "<unk>", "c", "a", "b", "d"};
  EXPECT_EQ(vocabulary.tokens(), expected);
  EXPECT_EQ(vocabulary.pad_id(), 0);
  EXPECT_EQ(vocabulary.unk_id(), 1);
}

TEST(Vocabulary, MinCountAndMaxSizeSendRareTokensToUnk) {
  const std::map<std::string, int64_t> counts = {{"the", 10}, {"whale", 3}, {"ahab", 2}, {"rare", 1}};
  const Vocabulary by_count = Vocabulary::from_counts(counts, {false, true, 0, 2});
  EXPECT_EQ(by_count.size(), 4);  // <unk> the whale ahab
  EXPECT_EQ(by_count.id("rare"), by_count.unk_id());
  EXPECT_EQ(by_count.id("never seen"), by_count.unk_id());
  EXPECT_NE(by_count.id("ahab"), by_count.unk_id());

  const Vocabulary by_size = Vocabulary::from_counts(counts, {false, true, 3, 1});
  EXPECT_EQ(by_size.size(), 3);  // <unk> the whale
  EXPECT_EQ(by_size.id("ahab"), by_size.unk_id());
  EXPECT_EQ(by_size.token(by_size.id("whale")), "whale");
  EXPECT_THROW(Vocabulary::from_counts(counts, {true, true, 2, 1}), std::invalid_argument);
}

TEST(Vocabulary, WithoutUnkAnUnknownTokenIsAnError) {
  const Vocabulary labels = Vocabulary::from_tokens({"-1", "1"}, {false, false, 0, 1});
  EXPECT_EQ(labels.id("1"), 1);
  EXPECT_THROW(labels.id("0"), std::invalid_argument);
  EXPECT_THROW(labels.token(2), std::out_of_range);
}

TEST(Vocabulary, JsonRoundTripKeepsIds) {
  const std::map<std::string, int64_t> counts = {{"x", 3}, {"y", 1}, {"\"quoted\"", 2}};
  const Vocabulary vocabulary = Vocabulary::from_counts(counts, {true, true, 0, 1});
  const Vocabulary loaded = Vocabulary::from_json(nlohmann::json::parse(vocabulary.to_json().dump()));
  EXPECT_EQ(loaded.tokens(), vocabulary.tokens());
  EXPECT_EQ(loaded.pad_id(), vocabulary.pad_id());
  EXPECT_EQ(loaded.unk_id(), vocabulary.unk_id());
  EXPECT_EQ(loaded.id("\"quoted\""), vocabulary.id("\"quoted\""));
  EXPECT_THROW(Vocabulary::from_json(nlohmann::json{{"tokens", {"a"}}}), std::invalid_argument);
  EXPECT_THROW(Vocabulary::from_json(nlohmann::json{{"tokens", {"a"}}, {"pad_id", 0}, {"unk_id", -1}}),
               std::invalid_argument);
}

TEST(TextCodec, EncodesPromptAndDecodesAfterJsonRoundTrip) {
  TextCodec codec;
  codec.tokenizer = {Tokenizer::Level::character, false};
  std::map<std::string, int64_t> counts;
  for (const std::string& token : codec.tokenizer.split("Call me Ishmael.")) ++counts[token];
  codec.vocabulary = Vocabulary::from_counts(counts, {false, true, 0, 1});
  const TextCodec loaded = TextCodec::from_json(nlohmann::json::parse(codec.to_json().dump()));
  const std::vector<int32_t> ids = loaded.encode("Call me");
  EXPECT_EQ(ids, codec.encode("Call me"));
  EXPECT_EQ(loaded.decode(ids), "Call me");
  // 'Z' never occurred: <unk>, decoded as the literal token.
  EXPECT_EQ(loaded.encode("Z")[0], loaded.vocabulary.unk_id());
  EXPECT_EQ(loaded.decode(loaded.encode("CZ")), "C<unk>");
}

}  // namespace
}  // namespace rnnlab::trainer::data
