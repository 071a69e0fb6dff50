#include "trainer/data/readers.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace rnnlab::trainer::data {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    throw std::invalid_argument("data file '" + path + "' does not exist or is not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot open data file '" + path + "': " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw std::runtime_error("error reading '" + path + "'");
  std::string text = content.str();
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // UTF-8 byte order mark
  return text;
}

// Lines without their terminators ("\n" or "\r\n"), numbered from 1.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    begin = end + 1;
  }
  return lines;
}

std::string where(const std::string& path, int line) { return path + ":" + std::to_string(line) + ": "; }

bool parse_number(const std::string& field, double* value) {
  const std::string text = trim(field);
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  *value = std::strtod(text.c_str(), &end);
  // strtod also reads "nan" and "inf": a series holding them would train on NaN.
  return end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(*value);
}

}  // namespace

std::string trim(const std::string& text) {
  const char* space = " \t\r\n";
  const size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

std::string read_text(const std::string& path) {
  std::error_code error;
  if (!fs::is_directory(path, error)) return read_file(path);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(path)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !name.empty() && name[0] != '.') files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw std::invalid_argument("data directory '" + path + "' holds no files");
  std::string text;
  for (const fs::path& file : files) {
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += read_file(file.string());
  }
  return text;
}

std::vector<LabeledText> read_labeled_tsv(const std::string& path) {
  const std::vector<std::string> lines = split_lines(read_file(path));
  std::vector<LabeledText> examples;
  for (size_t i = 0; i < lines.size(); ++i) {
    const int line = int(i) + 1;
    if (trim(lines[i]).empty()) continue;
    const size_t tab = lines[i].find('\t');
    if (tab == std::string::npos) throw std::invalid_argument(where(path, line) + "expected 'label<TAB>text', found no tab");
    LabeledText example{trim(lines[i].substr(0, tab)), trim(lines[i].substr(tab + 1)), line};
    if (example.label.empty()) throw std::invalid_argument(where(path, line) + "empty label");
    if (example.text.empty()) throw std::invalid_argument(where(path, line) + "empty text");
    examples.push_back(std::move(example));
  }
  if (examples.empty()) throw std::invalid_argument("data file '" + path + "' holds no examples");
  return examples;
}

std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& name) {
  std::vector<CsvRecord> records;
  CsvRecord record;
  std::string field;
  int line = 1;
  int quote_line = 0;   // where an open quote started, for the "unterminated" message
  bool in_quotes = false;
  bool field_was_quoted = false;
  bool record_has_content = false;
  record.line = 1;
  auto end_field = [&] {
    record.fields.push_back(std::move(field));
    field.clear();
    field_was_quoted = false;
  };
  auto end_record = [&] {
    if (record_has_content) {
      end_field();
      records.push_back(std::move(record));
    }
    record = CsvRecord{};
    field.clear();
    field_was_quoted = false;
    record_has_content = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (!record_has_content && c != '\n' && c != '\r') {
      record_has_content = true;
      record.line = line;
    }
    if (c == '"') {
      if (field_was_quoted || !trim(field).empty()) {
        throw std::invalid_argument(where(name, line) + "stray '\"' in an unquoted field (quote the whole field and double inner quotes)");
      }
      field.clear();
      in_quotes = true;
      field_was_quoted = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n') {
      end_record();
      ++line;
    } else if (c == '\r') {
      // part of a "\r\n" terminator outside quotes
    } else {
      if (field_was_quoted && c != ' ' && c != '\t') {
        throw std::invalid_argument(where(name, line) + "text after a closing quote");
      }
      if (!field_was_quoted) field += c;
    }
  }
  if (in_quotes) throw std::invalid_argument(where(name, quote_line) + "unterminated quoted field");
  end_record();
  return records;
}

std::vector<LabeledText> read_labeled_csv(const std::string& path) {
  const std::vector<CsvRecord> records = parse_csv(read_file(path), path);
  std::vector<LabeledText> examples;
  for (size_t i = 0; i < records.size(); ++i) {
    const CsvRecord& record = records[i];
    if (record.fields.size() != 2) {
      throw std::invalid_argument(where(path, record.line) + "expected 2 fields (label,text), found " +
                                  std::to_string(record.fields.size()));
    }
    LabeledText example{trim(record.fields[0]), trim(record.fields[1]), record.line};
    if (i == 0 && example.label == "label" && example.text == "text") continue;  // header
    if (example.label.empty()) throw std::invalid_argument(where(path, record.line) + "empty label");
    if (example.text.empty()) throw std::invalid_argument(where(path, record.line) + "empty text");
    examples.push_back(std::move(example));
  }
  if (examples.empty()) throw std::invalid_argument("data file '" + path + "' holds no examples");
  return examples;
}

std::vector<TaggedSentence> read_tagged(const std::string& path) {
  const std::vector<std::string> lines = split_lines(read_file(path));
  std::vector<TaggedSentence> sentences;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::istringstream tokens(lines[i]);
    TaggedSentence sentence;
    sentence.line = int(i) + 1;
    std::string token;
    while (tokens >> token) {
      const size_t slash = token.rfind('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == token.size()) {
        // A line `word TAG` (two columns, the first not word/TAG) is most likely a CoNLL file.
        std::istringstream columns(lines[i]);
        std::string first, second, third;
        const bool two_columns =
            sentence.words.empty() && bool(columns >> first >> second) && !(columns >> third);
        throw std::invalid_argument(where(path, int(i) + 1) + "token '" + token + "' is not word/TAG" +
                                    (two_columns ? " (for `word TAG` columns use data.format: conll)" : ""));
      }
      sentence.words.push_back(token.substr(0, slash));
      sentence.tags.push_back(token.substr(slash + 1));
    }
    if (!sentence.words.empty()) sentences.push_back(std::move(sentence));
  }
  if (sentences.empty()) throw std::invalid_argument("data file '" + path + "' holds no sentences");
  return sentences;
}

std::vector<TaggedSentence> read_conll(const std::string& path) {
  const std::vector<std::string> lines = split_lines(read_file(path));
  std::vector<TaggedSentence> sentences;
  TaggedSentence sentence;
  auto finish = [&] {
    if (!sentence.words.empty()) sentences.push_back(std::move(sentence));
    sentence = TaggedSentence{};
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    std::istringstream in(lines[i]);
    std::vector<std::string> columns;
    for (std::string column; in >> column;) columns.push_back(column);
    if (columns.empty()) {
      finish();
      continue;
    }
    if (columns[0] == "-DOCSTART-") continue;
    if (columns.size() < 2) {
      throw std::invalid_argument(where(path, int(i) + 1) + "expected `word TAG` columns, found '" + columns[0] +
                                  "' alone (a line with no tag)");
    }
    if (sentence.words.empty()) sentence.line = int(i) + 1;
    sentence.words.push_back(columns.front());
    sentence.tags.push_back(columns.back());
  }
  finish();
  if (sentences.empty()) throw std::invalid_argument("data file '" + path + "' holds no sentences");
  return sentences;
}

std::vector<double> read_numeric_column(const std::string& path, const std::string& column) {
  const std::vector<CsvRecord> records = parse_csv(read_file(path), path);
  if (records.empty()) throw std::invalid_argument("data file '" + path + "' holds no rows");
  const std::vector<std::string>& first = records[0].fields;
  bool has_header = false;
  for (const std::string& field : first) {
    double ignored = 0;
    if (!parse_number(field, &ignored)) has_header = true;
  }
  size_t index = first.size() - 1;
  if (!column.empty()) {
    if (has_header) {
      auto it = std::find_if(first.begin(), first.end(), [&](const std::string& f) { return trim(f) == column; });
      if (it == first.end()) {
        std::string names;
        for (const std::string& field : first) names += (names.empty() ? "" : ", ") + trim(field);
        throw std::invalid_argument("key 'data.column': '" + path + "' has no column '" + column + "' (columns: " + names + ")");
      }
      index = size_t(it - first.begin());
    } else {
      char* end = nullptr;
      const long number = std::strtol(column.c_str(), &end, 10);
      if (*end != '\0' || number < 1 || size_t(number) > first.size()) {
        throw std::invalid_argument("key 'data.column': '" + path + "' has no header; give a column number 1.." +
                                    std::to_string(first.size()));
      }
      index = size_t(number - 1);
    }
  }
  std::vector<double> values;
  for (size_t i = has_header ? 1 : 0; i < records.size(); ++i) {
    const CsvRecord& record = records[i];
    if (record.fields.size() != first.size()) {
      throw std::invalid_argument(where(path, record.line) + "expected " + std::to_string(first.size()) +
                                  " fields, found " + std::to_string(record.fields.size()));
    }
    double value = 0;
    if (!parse_number(record.fields[index], &value)) {
      throw std::invalid_argument(where(path, record.line) + "'" + record.fields[index] + "' is not a number");
    }
    values.push_back(value);
  }
  if (values.empty()) throw std::invalid_argument("data file '" + path + "' holds no data rows");
  return values;
}

}  // namespace rnnlab::trainer::data
