// The text side of `task: translate` (issue 12): reading `source<TAB>target` pair files,
// tokenizing each side, the two vocabularies, and the generated symbol tasks.
//
// Pair files: one pair a line, `source<TAB>target` with an optional third column, a key
// such as the Bible's `Book chapter:verse` (the group of a key is what precedes its last
// space: "I Samuel 23:28" -> "I Samuel"; splitting by group keeps each book in one split).
// A line with no tab, an empty side (after trimming spaces) or more than three columns is
// skipped and counted, with a message `file:line: what` for each (the first kMaxMessages
// are kept, the count is exact); blank lines are ignored; a file with no pair at all throws
// std::invalid_argument naming it. A UTF-8 byte order mark and "\r\n" line ends are fine.
//
// Tokenizing (PairTokenizer), on code points (trainer/data/utf8.h):
//   word  runs of letters, digits and apostrophes are words; every punctuation mark or
//         symbol (ASCII, Latin-1's inverted marks and guillemets, dashes, curly quotes,
//         ...) is a token of its own; whitespace separates. "¿Conque" -> "¿", "conque".
//   char  one token per code point, each run of whitespace one " " token, none at the ends.
//   lowercase (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic) applies before splitting.
// Vocabularies: one per side, from the TRAINING pairs only, with <pad> = 0, <unk> = 1,
// <s> = 2, </s> = 3, then tokens by descending count (ties by bytes); max_vocab counts the
// four specials; tokens seen fewer than min_count times become <unk>.
//
// Generated tasks: random symbol sequences (length uniform in [min_length, max_length],
// symbols uniform) whose target is the sequence reversed, or sorted; written as pairs of
// space-separated symbol names ("c a b" -> "b a c"), so they go through the same word
// tokenizer and vocabularies. A pure function of the options (seeded).
//
// Values; const methods and free functions are thread safe. Errors: std::invalid_argument.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/data/vocabulary.h"

namespace rnnlab::trainer::data {

struct TranslationPair {
  std::string source;
  std::string target;
  std::string key;  // third column, may be empty
  int line = 0;     // 1-based line in its file (generated: the pair's number)
};

struct PairFile {
  static constexpr size_t kMaxMessages = 20;
  std::vector<TranslationPair> pairs;
  int64_t skipped = 0;                // malformed lines left out
  std::vector<std::string> messages;  // `file:line: what`, at most kMaxMessages
};

PairFile read_translation_pairs(const std::string& path);
// "I Samuel 23:28" -> "I Samuel"; a key without a space is its own group.
std::string key_group(const std::string& key);

struct PairTokenizer {
  Tokenizer::Level level = Tokenizer::Level::word;
  bool lowercase = true;

  std::vector<std::string> split(const std::string& text) const;
  std::string join(const std::vector<std::string>& tokens) const;  // word: one space between
  nlohmann::json to_json() const;  // {"level": "word", "lowercase": true}
  static PairTokenizer from_json(const nlohmann::json& document);
};

constexpr const char* kBos = "<s>";
constexpr const char* kEos = "</s>";

// One side's codec: <pad> 0, <unk> 1, <s> 2, </s> 3.
struct SideCodec {
  PairTokenizer tokenizer;
  Vocabulary vocabulary;

  static constexpr int32_t kPadId = 0, kUnkId = 1, kBosId = 2, kEosId = 3;
  // From the training sentences' tokens; `side` ("source" / "target") prefixes messages.
  static SideCodec build(const PairTokenizer& tokenizer, const std::vector<std::vector<std::string>>& sentences,
                         int max_vocab, int min_count, const std::string& side);
  std::vector<int32_t> encode(const std::vector<std::string>& tokens) const { return vocabulary.encode(tokens); }
  // Tokens back to text, leaving out <pad>, <s> and </s>.
  std::string decode(const std::vector<int32_t>& ids) const;
  nlohmann::json to_json() const;  // {"tokenizer": {...}, "vocabulary": {...}}
  static SideCodec from_json(const nlohmann::json& document);
};

struct GeneratedPairsOptions {
  enum class Kind { reverse, sort };
  Kind kind = Kind::reverse;
  int symbols = 10;  // alphabet size: a, b, ... (s0, s1, ... beyond 26)
  int min_length = 3;
  int max_length = 10;
  int count = 1000;
  uint64_t seed = 0;
};

std::vector<TranslationPair> generate_symbol_pairs(const GeneratedPairsOptions& options);
GeneratedPairsOptions::Kind parse_generated_kind(const std::string& name);  // "reverse" | "sort"

}  // namespace rnnlab::trainer::data
