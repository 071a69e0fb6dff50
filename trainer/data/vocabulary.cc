#include "trainer/data/vocabulary.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

namespace rnnlab::trainer::data {
namespace {

// Length of the UTF-8 sequence starting with `lead`, or 1 for a byte that cannot start one
// (so invalid input still splits into tokens without losing bytes).
size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Letters, digits, apostrophes and every non-ASCII code point (accented letters, mostly)
// continue a word.
bool is_word_byte(unsigned char c) {
  return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '\'';
}

}  // namespace

std::vector<std::string> Tokenizer::split(const std::string& raw) const {
  std::string text = raw;
  if (lowercase) {
    for (char& c : text) {
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    }
  }
  std::vector<std::string> tokens;
  size_t i = 0;
  if (level == Level::character) {
    while (i < text.size()) {
      size_t length = std::min(utf8_length(static_cast<unsigned char>(text[i])), text.size() - i);
      tokens.push_back(text.substr(i, length));
      i += length;
    }
    return tokens;
  }
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (is_space(c)) {
      ++i;
    } else if (is_word_byte(c)) {
      size_t end = i;
      while (end < text.size() && is_word_byte(static_cast<unsigned char>(text[end]))) ++end;
      tokens.push_back(text.substr(i, end - i));
      i = end;
    } else {
      tokens.push_back(text.substr(i, 1));
      ++i;
    }
  }
  return tokens;
}

std::string Tokenizer::join(const std::vector<std::string>& tokens) const {
  std::string text;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (level == Level::word && i > 0) text += ' ';
    text += tokens[i];
  }
  return text;
}

Tokenizer::Level Tokenizer::parse_level(const std::string& name) {
  if (name == "char") return Level::character;
  if (name == "word") return Level::word;
  throw std::invalid_argument("key 'data.level': unknown level '" + name + "' (choices: char, word)");
}

const char* Tokenizer::level_name(Level level) { return level == Level::character ? "char" : "word"; }

void Vocabulary::add(const std::string& token) {
  const auto inserted = ids_.emplace(token, int32_t(tokens_.size()));
  if (!inserted.second) throw std::invalid_argument("vocabulary: duplicate token '" + token + "'");
  tokens_.push_back(token);
}

Vocabulary Vocabulary::from_counts(const std::map<std::string, int64_t>& counts,
                                   const VocabularyOptions& options) {
  if (options.max_size < 0) throw std::invalid_argument("key 'data.max_vocab': must be >= 0");
  if (options.min_count < 1) throw std::invalid_argument("key 'data.min_count': must be >= 1");
  Vocabulary vocabulary;
  if (options.add_pad) {
    vocabulary.pad_id_ = vocabulary.size();
    vocabulary.add(kPad);
  }
  if (options.add_unk) {
    vocabulary.unk_id_ = vocabulary.size();
    vocabulary.add(kUnk);
  }
  if (options.max_size != 0 && options.max_size <= vocabulary.size()) {
    throw std::invalid_argument("key 'data.max_vocab': " + std::to_string(options.max_size) +
                                " leaves no room after the special tokens");
  }
  std::vector<std::pair<std::string, int64_t>> sorted;
  for (const auto& [token, count] : counts) {
    if (count >= options.min_count && !vocabulary.contains(token)) sorted.emplace_back(token, count);
  }
  // std::map iterates in byte order, so a stable sort by count keeps ties in byte order.
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& entry : sorted) {
    if (options.max_size != 0 && vocabulary.size() >= options.max_size) break;
    vocabulary.add(entry.first);
  }
  return vocabulary;
}

Vocabulary Vocabulary::from_tokens(const std::vector<std::string>& tokens, const VocabularyOptions& options) {
  Vocabulary vocabulary;
  if (options.add_pad) {
    vocabulary.pad_id_ = vocabulary.size();
    vocabulary.add(kPad);
  }
  if (options.add_unk) {
    vocabulary.unk_id_ = vocabulary.size();
    vocabulary.add(kUnk);
  }
  for (const std::string& token : tokens) vocabulary.add(token);
  return vocabulary;
}

int32_t Vocabulary::id(const std::string& token) const {
  auto it = ids_.find(token);
  if (it != ids_.end()) return it->second;
  if (unk_id_ < 0) throw std::invalid_argument("unknown token '" + token + "' (vocabulary has no <unk>)");
  return unk_id_;
}

const std::string& Vocabulary::token(int32_t id) const {
  if (id < 0 || id >= size()) {
    throw std::out_of_range("vocabulary: id " + std::to_string(id) + " outside [0, " + std::to_string(size()) + ")");
  }
  return tokens_[size_t(id)];
}

std::vector<int32_t> Vocabulary::encode(const std::vector<std::string>& tokens) const {
  std::vector<int32_t> ids;
  ids.reserve(tokens.size());
  for (const std::string& token : tokens) ids.push_back(id(token));
  return ids;
}

std::vector<std::string> Vocabulary::decode(const std::vector<int32_t>& ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) tokens.push_back(token(id));
  return tokens;
}

nlohmann::json Vocabulary::to_json() const {
  return nlohmann::json{{"tokens", tokens_}, {"pad_id", pad_id_}, {"unk_id", unk_id_}};
}

Vocabulary Vocabulary::from_json(const nlohmann::json& document) {
  try {
    Vocabulary vocabulary;
    for (const auto& token : document.at("tokens")) vocabulary.add(token.get<std::string>());
    vocabulary.pad_id_ = document.at("pad_id").get<int>();
    vocabulary.unk_id_ = document.at("unk_id").get<int>();
    if (vocabulary.pad_id_ >= vocabulary.size() || vocabulary.unk_id_ >= vocabulary.size() ||
        (vocabulary.pad_id_ >= 0 && vocabulary.tokens_[size_t(vocabulary.pad_id_)] != kPad) ||
        (vocabulary.unk_id_ >= 0 && vocabulary.tokens_[size_t(vocabulary.unk_id_)] != kUnk)) {
      throw std::invalid_argument("pad_id/unk_id do not point at <pad>/<unk>");
    }
    return vocabulary;
  } catch (const nlohmann::json::exception& error) {
    throw std::invalid_argument(std::string("vocabulary JSON: ") + error.what());
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(std::string("vocabulary JSON: ") + error.what());
  }
}

nlohmann::json TextCodec::to_json() const {
  return nlohmann::json{{"level", Tokenizer::level_name(tokenizer.level)},
                        {"lowercase", tokenizer.lowercase},
                        {"vocabulary", vocabulary.to_json()}};
}

TextCodec TextCodec::from_json(const nlohmann::json& document) {
  TextCodec codec;
  try {
    codec.tokenizer.level = Tokenizer::parse_level(document.at("level").get<std::string>());
    codec.tokenizer.lowercase = document.at("lowercase").get<bool>();
    codec.vocabulary = Vocabulary::from_json(document.at("vocabulary"));
  } catch (const nlohmann::json::exception& error) {
    throw std::invalid_argument(std::string("text codec JSON: ") + error.what());
  }
  return codec;
}

}  // namespace rnnlab::trainer::data
