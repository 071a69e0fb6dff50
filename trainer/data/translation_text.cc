#include "trainer/data/translation_text.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "layers/random.h"
#include "trainer/data/readers.h"
#include "trainer/data/utf8.h"

namespace rnnlab::trainer::data {
namespace {

// Stream of the generated tasks' random numbers.
constexpr uint64_t kGeneratedStream = 0x5345513251ull;  // "SEQ2Q"

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t begin = 0;
  for (size_t tab; (tab = line.find('\t', begin)) != std::string::npos; begin = tab + 1) {
    fields.push_back(line.substr(begin, tab - begin));
  }
  fields.push_back(line.substr(begin));
  return fields;
}

// Why a line is not a pair, or "" when it is one.
std::string malformed(const std::vector<std::string>& fields) {
  if (fields.size() < 2) return "expected 'source<TAB>target', found no tab";
  if (fields.size() > 3) {
    return "expected 'source<TAB>target[<TAB>key]', found " + std::to_string(fields.size()) + " columns";
  }
  if (trim(fields[0]).empty()) return "empty source side";
  if (trim(fields[1]).empty()) return "empty target side";
  return "";
}

bool is_word(char32_t c) { return c == '\'' || (!is_space(c) && !is_punctuation(c)); }

std::string symbol_name(int symbol, int symbols) {
  return symbols <= 26 ? std::string(1, char('a' + symbol)) : "s" + std::to_string(symbol);
}

std::string join_symbols(const std::vector<int>& sequence, int symbols) {
  std::string text;
  for (int symbol : sequence) text += (text.empty() ? "" : " ") + symbol_name(symbol, symbols);
  return text;
}

}  // namespace

PairFile read_translation_pairs(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw std::invalid_argument("data file '" + path + "' is a directory (expected source<TAB>target lines)");
  }
  const std::string text = read_text(path);
  PairFile file;
  size_t begin = 0;
  for (int line = 1; begin < text.size(); ++line) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string content = text.substr(begin, end - begin);
    begin = end + 1;
    if (!content.empty() && content.back() == '\r') content.pop_back();
    if (trim(content).empty()) continue;
    const std::vector<std::string> fields = split_tabs(content);
    const std::string problem = malformed(fields);
    if (!problem.empty()) {
      ++file.skipped;
      if (file.messages.size() < PairFile::kMaxMessages) {
        file.messages.push_back(path + ":" + std::to_string(line) + ": " + problem + " (skipped)");
      }
      continue;
    }
    file.pairs.push_back({trim(fields[0]), trim(fields[1]),
                          fields.size() > 2 ? trim(fields[2]) : "", line});
  }
  if (file.pairs.empty()) {
    throw std::invalid_argument("data file '" + path + "' holds no source<TAB>target pairs" +
                                (file.messages.empty() ? "" : " (first problem: " + file.messages[0] + ")"));
  }
  return file;
}

std::string key_group(const std::string& key) {
  const size_t space = key.rfind(' ');
  return space == std::string::npos ? key : key.substr(0, space);
}

std::vector<std::string> PairTokenizer::split(const std::string& text) const {
  std::vector<char32_t> characters = decode_utf8(text);
  if (lowercase) {
    for (char32_t& c : characters) c = lower_case(c);
  }
  std::vector<std::string> tokens;
  std::string word;
  const auto flush = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  for (size_t i = 0; i < characters.size(); ++i) {
    const char32_t c = characters[i];
    if (level == Tokenizer::Level::character) {
      if (!is_space(c)) {
        tokens.emplace_back();
        append_utf8(c, tokens.back());
      } else if (!tokens.empty() && tokens.back() != " " && i + 1 < characters.size() && !is_space(characters[i + 1])) {
        tokens.emplace_back(" ");
      }
    } else if (is_word(c)) {
      append_utf8(c, word);
    } else {
      flush();
      if (!is_space(c)) append_utf8(c, tokens.emplace_back());
    }
  }
  flush();
  return tokens;
}

std::string PairTokenizer::join(const std::vector<std::string>& tokens) const {
  std::string text;
  for (const std::string& token : tokens) {
    if (level == Tokenizer::Level::word && !text.empty()) text += ' ';
    text += token;
  }
  return text;
}

nlohmann::json PairTokenizer::to_json() const {
  return nlohmann::json{{"level", Tokenizer::level_name(level)}, {"lowercase", lowercase}};
}

PairTokenizer PairTokenizer::from_json(const nlohmann::json& document) {
  try {
    return PairTokenizer{Tokenizer::parse_level(document.at("level").get<std::string>()),
                         document.at("lowercase").get<bool>()};
  } catch (const nlohmann::json::exception& error) {
    throw std::invalid_argument(std::string("pair tokenizer JSON: ") + error.what());
  }
}

SideCodec SideCodec::build(const PairTokenizer& tokenizer, const std::vector<std::vector<std::string>>& sentences,
                           int max_vocab, int min_count, const std::string& side) {
  std::map<std::string, int64_t> counts;
  for (const auto& sentence : sentences) {
    for (const std::string& token : sentence) {
      if (token != kBos && token != kEos) counts[token]++;
    }
  }
  SideCodec codec{tokenizer, {}};
  try {
    if (max_vocab != 0 && max_vocab <= 4) {
      throw std::invalid_argument("key 'data.max_vocab': " + std::to_string(max_vocab) +
                                  " leaves no room after <pad>, <unk>, <s>, </s>");
    }
    // <pad> and <unk> come first from from_counts; <s> and </s> go right after them.
    const Vocabulary ranked = Vocabulary::from_counts(counts, {true, true, max_vocab == 0 ? 0 : max_vocab - 2, min_count});
    std::vector<std::string> tokens = {kBos, kEos};
    tokens.insert(tokens.end(), ranked.tokens().begin() + 2, ranked.tokens().end());
    codec.vocabulary = Vocabulary::from_tokens(tokens, {true, true, 0, 1});
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(side + " side: " + error.what());
  }
  return codec;
}

std::string SideCodec::decode(const std::vector<int32_t>& ids) const {
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    if (id != kPadId && id != kBosId && id != kEosId) tokens.push_back(vocabulary.token(id));
  }
  return tokenizer.join(tokens);
}

nlohmann::json SideCodec::to_json() const {
  return nlohmann::json{{"tokenizer", tokenizer.to_json()}, {"vocabulary", vocabulary.to_json()}};
}

SideCodec SideCodec::from_json(const nlohmann::json& document) {
  if (!document.is_object() || !document.contains("tokenizer") || !document.contains("vocabulary")) {
    throw std::invalid_argument("translation codec JSON: needs 'tokenizer' and 'vocabulary'");
  }
  SideCodec codec{PairTokenizer::from_json(document["tokenizer"]), Vocabulary::from_json(document["vocabulary"])};
  const std::vector<std::string>& tokens = codec.vocabulary.tokens();
  if (tokens.size() < 4 || tokens[size_t(kBosId)] != kBos || tokens[size_t(kEosId)] != kEos ||
      codec.vocabulary.pad_id() != kPadId || codec.vocabulary.unk_id() != kUnkId) {
    throw std::invalid_argument("translation codec JSON: the vocabulary must start <pad> <unk> <s> </s>");
  }
  return codec;
}

std::vector<TranslationPair> generate_symbol_pairs(const GeneratedPairsOptions& options) {
  if (options.symbols < 2) throw std::invalid_argument("generated pairs: need at least 2 symbols");
  if (options.min_length < 1 || options.max_length < options.min_length) {
    throw std::invalid_argument("generated pairs: lengths must satisfy 1 <= min_length <= max_length (got " +
                                std::to_string(options.min_length) + ", " + std::to_string(options.max_length) + ")");
  }
  if (options.count < 1) throw std::invalid_argument("generated pairs: count must be >= 1");
  layers::RandomStream random{options.seed, kGeneratedStream, 0};
  const auto span = uint64_t(options.max_length - options.min_length + 1);
  std::vector<TranslationPair> pairs;
  pairs.reserve(size_t(options.count));
  for (int i = 0; i < options.count; ++i) {
    std::vector<int> sequence(size_t(options.min_length + int(random.next_below(span))));
    for (int& symbol : sequence) symbol = int(random.next_below(uint64_t(options.symbols)));
    std::vector<int> target = sequence;
    if (options.kind == GeneratedPairsOptions::Kind::reverse) {
      std::reverse(target.begin(), target.end());
    } else {
      std::sort(target.begin(), target.end());
    }
    pairs.push_back({join_symbols(sequence, options.symbols), join_symbols(target, options.symbols), "", i + 1});
  }
  return pairs;
}

GeneratedPairsOptions::Kind parse_generated_kind(const std::string& name) {
  if (name == "reverse") return GeneratedPairsOptions::Kind::reverse;
  if (name == "sort") return GeneratedPairsOptions::Kind::sort;
  throw std::invalid_argument("unknown generated task '" + name + "' (choices: reverse, sort)");
}

}  // namespace rnnlab::trainer::data
