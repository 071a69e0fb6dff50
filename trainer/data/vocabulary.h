// Tokenizers and vocabularies: text <-> token strings <-> int32 ids.
//
// A Vocabulary is built from the TRAINING split only (tokens seen only in validation or
// test data become <unk>, as they would for a deployed model) and is saved with every
// checkpoint (to_json / from_json) so `rnnlab generate` decodes with the same ids.
//
// Id order is deterministic: special tokens first (<pad> = 0 when present, then <unk>),
// then tokens by descending training count, ties broken by the token's bytes.
//
// All classes are values; const methods are thread safe. Failures throw
// std::invalid_argument (bad options, malformed JSON document).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rnnlab::trainer::data {

// Splits text into tokens and joins them back.
//   char: one token per UTF-8 code point (Moby-Dick's em dashes stay one token; invalid
//         bytes become one token each, so nothing is lost).
//   word: runs of letters, digits and apostrophes are words; every other non-space
//         character is a token of its own; whitespace separates and is dropped. Joining
//         puts one space between tokens, so decoding word-level text is not byte-exact.
struct Tokenizer {
  enum class Level { character, word };
  Level level = Level::character;
  bool lowercase = false;  // ASCII lowercasing, applied before splitting

  std::vector<std::string> split(const std::string& text) const;
  std::string join(const std::vector<std::string>& tokens) const;
  static Level parse_level(const std::string& name);  // "char" | "word", else invalid_argument
  static const char* level_name(Level level);
};

struct VocabularyOptions {
  bool add_pad = false;  // reserve id 0 for <pad> (padded batches)
  bool add_unk = true;   // unknown tokens map to <unk>; without it they are an error
  int max_size = 0;      // 0 = unlimited; counts the special tokens
  int min_count = 1;     // tokens seen fewer times become <unk>
};

class Vocabulary {
 public:
  static constexpr const char* kPad = "<pad>";
  static constexpr const char* kUnk = "<unk>";

  Vocabulary() = default;
  // From training-token counts, applying min_count and max_size.
  static Vocabulary from_counts(const std::map<std::string, int64_t>& counts,
                                const VocabularyOptions& options);
  // A closed set (labels, tags) in the given order, no special tokens unless asked.
  static Vocabulary from_tokens(const std::vector<std::string>& tokens,
                                const VocabularyOptions& options);

  int size() const { return int(tokens_.size()); }
  int pad_id() const { return pad_id_; }  // -1 without <pad>
  int unk_id() const { return unk_id_; }  // -1 without <unk>
  bool contains(const std::string& token) const { return ids_.count(token) != 0; }
  // The token's id, <unk>'s for an unknown token; throws std::invalid_argument for an
  // unknown token when there is no <unk>.
  int32_t id(const std::string& token) const;
  const std::string& token(int32_t id) const;  // throws std::out_of_range for a bad id
  std::vector<int32_t> encode(const std::vector<std::string>& tokens) const;
  std::vector<std::string> decode(const std::vector<int32_t>& ids) const;
  const std::vector<std::string>& tokens() const { return tokens_; }

  // {"tokens": [...], "pad_id": 0|-1, "unk_id": 1|-1}
  nlohmann::json to_json() const;
  static Vocabulary from_json(const nlohmann::json& document);

 private:
  void add(const std::string& token);

  std::vector<std::string> tokens_;
  std::map<std::string, int32_t> ids_;
  int pad_id_ = -1;
  int unk_id_ = -1;
};

// Tokenizer + Vocabulary: what a checkpoint needs to turn a prompt into ids and ids back
// into text.
struct TextCodec {
  Tokenizer tokenizer;
  Vocabulary vocabulary;

  std::vector<int32_t> encode(const std::string& text) const {
    return vocabulary.encode(tokenizer.split(text));
  }
  std::string decode(const std::vector<int32_t>& ids) const {
    return tokenizer.join(vocabulary.decode(ids));
  }
  // {"level": "char", "lowercase": false, "vocabulary": {...}}
  nlohmann::json to_json() const;
  static TextCodec from_json(const nlohmann::json& document);
};

}  // namespace rnnlab::trainer::data
