// Loading a config: YAML tree + overrides -> Config, every key checked against the schema.
// Errors are collected, not thrown at the first one, so the user fixes a file in one go.
#include "trainer/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "trainer/config_check.h"
#include "trainer/config_schema.h"
#include "trainer/yaml_nesting.h"

namespace rnnlab::trainer {
namespace {

std::string quoted(const std::string& text) { return "'" + text + "'"; }

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string last_component(std::string_view path) {
  const size_t dot = path.rfind('.');
  return std::string(dot == std::string_view::npos ? path : path.substr(dot + 1));
}

// The closest key or section to a misspelt path: a small edit distance on the whole path,
// or the same last component in another section (`train.dropout` -> `model.dropout`).
std::string suggestion(const std::string& path) {
  std::vector<std::string> candidates;
  for (const ConfigKey& entry : config_schema()) {
    candidates.push_back(entry.key);
    for (size_t dot = entry.key.find('.'); dot != std::string::npos; dot = entry.key.find('.', dot + 1))
      candidates.push_back(entry.key.substr(0, dot));
  }
  std::string best;
  size_t best_distance = std::max<size_t>(2, path.size() / 4) + 1;
  for (const std::string& candidate : candidates) {
    const size_t distance = edit_distance(path, candidate);
    if (distance < best_distance) best_distance = distance, best = candidate;
  }
  if (!best.empty()) return best;
  const std::string leaf = last_component(path);
  for (const ConfigKey& entry : config_schema())
    if (last_component(entry.key) == leaf) return entry.key;
  return "";
}

std::string unknown_key_message(const std::string& path) {
  std::string message = "unknown key " + quoted(path);
  const std::string guess = suggestion(path);
  if (!guess.empty()) message += " (did you mean " + quoted(guess) + "?)";
  return message;
}

std::string section_keys(const std::string& section) {
  std::string keys;
  for (const ConfigKey& entry : config_schema())
    if (entry.key.compare(0, section.size() + 1, section + ".") == 0)
      keys += (keys.empty() ? "" : ", ") + entry.key;
  return keys;
}

std::string node_kind(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "nothing (null)";
  return quoted(node.Scalar());
}

bool parse_bool(const std::string& text, bool& value) {
  static const char* const kTrue[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const char* const kFalse[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  for (const char* word : kTrue)
    if (text == word) return value = true, true;
  for (const char* word : kFalse)
    if (text == word) return value = false, true;
  return false;
}

// YAML text is UTF-8. yaml-cpp reads other bytes as they are but writes each one back as
// U+FFFD, so a value that is not UTF-8 would not survive config_to_yaml (found by
// tests/fuzz: a data.path with byte 0xDA changed on the round trip).
bool valid_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3 : (byte >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    uint32_t code = length == 1 ? byte : byte & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    static const uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return false;
    i += length;
  }
  return true;
}

// Parses one scalar for `key`; returns "" on success or what is wrong.
std::string parse_value(const ConfigKey& key, const YAML::Node& node, ConfigValue& value) {
  if (key.type == ConfigType::string && node.IsNull()) return value = std::string(), "";
  const char* expected = key.type == ConfigType::boolean   ? "expected true or false"
                         : key.type == ConfigType::integer ? "expected an integer"
                         : key.type == ConfigType::number  ? "expected a number"
                         : key.type == ConfigType::choice  ? "expected one of the choices"
                                                           : "expected a string";
  if (!node.IsScalar()) return std::string(expected) + ", got " + node_kind(node);
  const std::string& text = node.Scalar();
  switch (key.type) {
    case ConfigType::boolean: {
      bool flag = false;
      if (!parse_bool(text, flag)) return std::string(expected) + ", got " + quoted(text);
      value = flag;
      return "";
    }
    case ConfigType::integer: {
      int64_t integer = 0;
      const char* begin = text.data() + (text.size() > 1 && text[0] == '+' ? 1 : 0);
      const char* end = text.data() + text.size();
      auto [ptr, error] = std::from_chars(begin, end, integer);
      if (error == std::errc::result_out_of_range)
        return quoted(text) + " is out of range (" + config_range_text(key) + ")";
      if (error != std::errc() || ptr != end || begin == end)
        return std::string(expected) + ", got " + quoted(text);
      value = integer;
      break;
    }
    case ConfigType::number: {
      // Decimal and exponent forms only: strtod alone would also take hex, "inf" and "nan".
      const bool plain = !text.empty() && text.find_first_not_of("0123456789+-.eE") == std::string::npos;
      char* end = nullptr;
      const double real = plain ? std::strtod(text.c_str(), &end) : 0.0;
      if (!plain || end != text.c_str() + text.size() || !std::isfinite(real))
        return std::string(expected) + ", got " + quoted(text);
      value = real;
      break;
    }
    case ConfigType::string:
      if (!valid_utf8(text)) return "the value is not valid UTF-8 (a YAML file is UTF-8 text)";
      value = text;
      return "";
    case ConfigType::choice: {
      if (std::find(key.choices.begin(), key.choices.end(), text) == key.choices.end()) {
        std::string choices;
        for (const std::string& option : key.choices) choices += (choices.empty() ? "" : ", ") + option;
        return "unknown value " + quoted(text) + " (choices: " + choices + ")";
      }
      value = text;
      return "";
    }
  }
  // Numeric bounds.
  const double number = std::holds_alternative<int64_t>(value) ? double(std::get<int64_t>(value))
                                                                : std::get<double>(value);
  const bool low = key.has_min && (key.min_exclusive ? number <= key.min : number < key.min);
  const bool high = key.has_max && (key.max_exclusive ? number >= key.max : number > key.max);
  if (low || high) return text + " is out of range (must be " + config_range_text(key) + ")";
  return "";
}

class Loader {
 public:
  explicit Loader(std::string source) : source_(std::move(source)) {}

  void load_yaml(const std::string& yaml_text) {
    check_yaml_nesting(yaml_text, source_);
    YAML::Node root;
    try {
      root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& error) {
      throw std::invalid_argument(source_ + ":" + std::to_string(error.mark.line + 1) +
                                  ": invalid YAML: " + error.msg);
    }
    if (!root.IsDefined() || root.IsNull()) return;  // an empty file: all defaults
    if (!root.IsMap()) {
      errors_.push_back(at(root) + "the top level must be a mapping of keys (task, data, model, "
                                   "train, output), got " + node_kind(root));
      return;
    }
    walk(root, "");
  }

  void apply_override(const std::string& assignment) {
    const std::string where = "override " + quoted(assignment) + ": ";
    const size_t equals = assignment.find('=');
    if (equals == std::string::npos || equals == 0) {
      errors_.push_back(where + "expected key=value (for example model.cell=gru)");
      return;
    }
    const std::string path = assignment.substr(0, equals);
    YAML::Node node;
    try {
      check_yaml_nesting(assignment.substr(equals + 1), "override " + quoted(assignment), false);
      node = YAML::Load(assignment.substr(equals + 1));
    } catch (const std::invalid_argument& error) {
      errors_.push_back(error.what());
      return;
    } catch (const YAML::Exception& error) {
      errors_.push_back(where + "invalid YAML value: " + error.msg);
      return;
    }
    if (const ConfigKey* key = find_config_key(path)) {
      set(*key, node, where);
    } else if (is_config_section(path)) {
      errors_.push_back(where + quoted(path) + " is a section; set one of its keys (" +
                        section_keys(path) + ")");
    } else {
      errors_.push_back(where + unknown_key_message(path));
    }
  }

  Config finish() {
    config_.source = source_;
    const std::string fallback = (source_.empty() ? "config" : source_) + ": ";
    check_config_rules(
        config_,
        [&](const std::vector<std::string>& keys) {
          const Setting* latest = nullptr;
          for (const std::string& key : keys) {
            auto it = where_.find(key);
            if (it != where_.end() && (!latest || it->second.order > latest->order)) latest = &it->second;
          }
          return latest ? latest->where : fallback;
        },
        errors_);
    if (!errors_.empty()) {
      std::string message;
      for (const std::string& error : errors_) message += (message.empty() ? "" : "\n") + error;
      throw std::invalid_argument(message);
    }
    return config_;
  }

 private:
  std::string at(const YAML::Node& node) const {
    return source_ + ":" + std::to_string(node.Mark().line + 1) + ": ";
  }

  void walk(const YAML::Node& map, const std::string& prefix) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      // By value: `it->first` lives in a temporary that the iterator returns.
      const YAML::Node name = it->first;
      const YAML::Node node = it->second;
      if (!name.IsScalar()) {
        errors_.push_back(at(name) + "keys must be plain names, got " + node_kind(name));
        continue;
      }
      const std::string path = prefix.empty() ? name.Scalar() : prefix + "." + name.Scalar();
      if (!seen_.insert(path).second) {
        errors_.push_back(at(name) + "duplicate key " + quoted(path));
        continue;
      }
      if (const ConfigKey* key = find_config_key(path)) {
        set(*key, node, at(name));
      } else if (is_config_section(path)) {
        if (node.IsMap())
          walk(node, path);
        else if (!node.IsNull())  // `model:` with nothing under it keeps the defaults
          errors_.push_back(at(name) + "key " + quoted(path) + ": expected a mapping of its keys (" +
                            section_keys(path) + "), got " + node_kind(node));
      } else {
        errors_.push_back(at(name) + unknown_key_message(path));
      }
    }
  }

  void set(const ConfigKey& key, const YAML::Node& node, const std::string& where) {
    ConfigValue value;
    const std::string problem = parse_value(key, node, value);
    if (!problem.empty()) {
      errors_.push_back(where + "key " + quoted(key.key) + ": " + problem);
      return;
    }
    key.set(config_, value);
    where_[key.key] = Setting{where, ++settings_};
  }

  std::string source_;
  Config config_;
  std::vector<std::string> errors_;
  std::set<std::string> seen_;
  // Where each key was last set, and in which order, so that a rule between keys blames
  // the setting that broke it.
  struct Setting {
    std::string where;  // "file:line: " or "override '...': "
    int order = 0;
  };
  std::map<std::string, Setting> where_;
  int settings_ = 0;
};

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& source_name,
                    const std::vector<std::string>& overrides) {
  Loader loader(source_name);
  loader.load_yaml(yaml_text);
  for (const std::string& assignment : overrides) loader.apply_override(assignment);
  return loader.finish();
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::invalid_argument("config file '" + path + "': cannot open (missing or unreadable)");
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) throw std::invalid_argument("config file '" + path + "': read error");
  return parse_config(text.str(), path, overrides);
}

void validate_config(Config& config) {
  // Values set in code skipped the parser, so re-check each against its type and bounds by
  // formatting it as YAML and parsing it back.
  const std::string where = (config.source.empty() ? "config" : config.source) + ": ";
  std::vector<std::string> errors;
  for (const ConfigKey& key : config_schema()) {
    const ConfigValue current = key.get(config);
    ConfigValue parsed;
    const std::string problem = parse_value(key, YAML::Node(format_config_value(current)), parsed);
    if (!problem.empty()) errors.push_back(where + "key " + quoted(key.key) + ": " + problem);
  }
  check_config_rules(config, [&](const std::vector<std::string>&) { return where; }, errors);
  if (!errors.empty()) {
    std::string message;
    for (const std::string& error : errors) message += (message.empty() ? "" : "\n") + error;
    throw std::invalid_argument(message);
  }
}

FlatConfig flatten_config(const Config& config) {
  FlatConfig flat;
  for (const ConfigKey& key : config_schema()) flat[key.key] = key.get(config);
  return flat;
}

std::string config_to_yaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::vector<std::string> open;  // sections currently open, outermost first
  for (const ConfigKey& key : config_schema()) {
    std::vector<std::string> parts;
    std::stringstream stream(key.key);
    for (std::string part; std::getline(stream, part, '.');) parts.push_back(part);
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
    for (; open.size() > common; open.pop_back()) out << YAML::EndMap;
    for (; open.size() + 1 < parts.size(); open.push_back(parts[open.size()]))
      out << YAML::Key << parts[open.size()] << YAML::Value << YAML::BeginMap;
    out << YAML::Key << parts.back() << YAML::Value;
    const ConfigValue value = key.get(config);
    // Free-form strings are always quoted so that "", "yes" or "123" stay strings.
    if (key.type == ConfigType::string) out << YAML::DoubleQuoted;
    out << format_config_value(value);
  }
  for (; !open.empty(); open.pop_back()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace rnnlab::trainer
