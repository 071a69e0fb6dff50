// Readers for the file formats a config can point at (data.format), and for the fetched
// data sets, which use the same formats:
//   text         plain UTF-8 text (language_model); a directory reads every regular file
//                in it, sorted by name, joined by newlines (sotu)
//   tsv          `label<TAB>text`, one example a line (classify)
//   csv          two columns label,text; RFC 4180 quoting ("" inside quotes, commas and
//                newlines inside quotes); an optional header "label","text"; a UTF-8 BOM is
//                skipped (Pang & Lee has one)
//   tagged       one sentence a line, whitespace-separated `word/TAG` tokens; a token is
//                split on its LAST '/', so `1/2/CD` is word `1/2`, tag `CD` (tagged)
//   conll        CoNLL-style columns: one token a line, `word TAG` (or more columns: the
//                first is the word, the last the tag, as in CoNLL-2003's `word POS chunk
//                NER`), blank lines between sentences; `-DOCSTART-` lines are skipped
//   numeric_csv  comma-separated numbers with an optional header row; one column is read
//                (forecast)
//
// Failure: a missing or unreadable file throws std::invalid_argument naming the path; a
// malformed line throws std::invalid_argument as `file:line: what is wrong`. Empty lines
// are skipped in tsv/tagged files. Functions are thread safe (no shared state).
#pragma once

#include <string>
#include <vector>

namespace rnnlab::trainer::data {

struct LabeledText {
  std::string label;
  std::string text;
  int line = 0;  // where the example starts in its file, for messages
};

struct TaggedSentence {
  std::vector<std::string> words;
  std::vector<std::string> tags;
  int line = 0;  // where the sentence starts in its file, for messages
};

std::string read_text(const std::string& path);
// `text` without leading and trailing spaces, tabs, "\r" and "\n".
std::string trim(const std::string& text);
std::vector<LabeledText> read_labeled_tsv(const std::string& path);
std::vector<LabeledText> read_labeled_csv(const std::string& path);
std::vector<TaggedSentence> read_tagged(const std::string& path);
std::vector<TaggedSentence> read_conll(const std::string& path);
// The column named `column`, or the last column when `column` is empty. A header row is
// recognised by a field that is not a number; without a header, `column` may be a 1-based
// index ("2").
std::vector<double> read_numeric_column(const std::string& path, const std::string& column);

// RFC 4180 parsing of a whole CSV document: records of fields, with the 1-based line each
// record starts on. `name` is used in messages. Exposed for tests and other CSV users.
struct CsvRecord {
  std::vector<std::string> fields;
  int line = 0;
};
std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& name);

}  // namespace rnnlab::trainer::data
