// The lexer of the run filter language (detail/filter_lexer.h).
#include "tracking/detail/filter_lexer.h"

#include <cctype>
#include <stdexcept>

namespace rnnlab::tracking::detail {
namespace {

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/' ||
         c == ':';
}

}  // namespace

[[noreturn]] void fail(std::string_view source, size_t position, const std::string& what) {
  std::string message = "malformed filter at column " + std::to_string(position + 1) + ": " +
                        what + "\n  " + std::string(source) + "\n  " +
                        std::string(position, ' ') + "^";
  throw std::invalid_argument(message);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<Token> lex(std::string_view source) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (true) {
    while (i < source.size() && std::isspace(static_cast<unsigned char>(source[i]))) ++i;
    if (i >= source.size()) break;
    const size_t start = i;
    const char c = source[i];
    if (c == '(') { tokens.push_back({Tok::lparen, "(", start, {}}); ++i; continue; }
    if (c == ')') { tokens.push_back({Tok::rparen, ")", start, {}}); ++i; continue; }
    if (c == ',') { tokens.push_back({Tok::comma, ",", start, {}}); ++i; continue; }
    if (c == '\'' || c == '"') {
      // SQL style: a doubled quote inside the string is one quote.
      std::string text;
      ++i;
      while (true) {
        if (i >= source.size()) fail(source, start, "unterminated string");
        if (source[i] == c) {
          if (i + 1 < source.size() && source[i + 1] == c) { text += c; i += 2; continue; }
          ++i;
          break;
        }
        text += source[i++];
      }
      tokens.push_back({Tok::string, text, start, {}});
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
        ((c == '-' || c == '+') && i + 1 < source.size() &&
         (std::isdigit(static_cast<unsigned char>(source[i + 1])) || source[i + 1] == '.'))) {
      std::string text(source.substr(i));
      char* end = nullptr;
      std::strtod(text.c_str(), &end);
      size_t length = static_cast<size_t>(end - text.c_str());
      if (length == 0) fail(source, start, "bad number");
      // Refuse trailing letters ("3abc") rather than reading them as a separate token.
      if (start + length < source.size() && name_char(source[start + length]))
        fail(source, start, "bad number '" + std::string(source.substr(start, length + 1)) + "'");
      tokens.push_back({Tok::number, std::string(source.substr(start, length)), start, {}});
      i = start + length;
      continue;
    }
    if (std::string_view("=!<>").find(c) != std::string_view::npos) {
      std::string op(1, c);
      if (i + 1 < source.size() && source[i + 1] == '=' ) op += '=';
      else if (c == '<' && i + 1 < source.size() && source[i + 1] == '>') op += '>';
      if (op == "!") fail(source, start, "'!' must be followed by '='");
      tokens.push_back({Tok::op, op, start, {}});
      i += op.size();
      continue;
    }
    if (name_char(c) || c == '`') {
      // A field or keyword: names separated by dots; a name in backticks may hold anything.
      Token token{Tok::word, "", start, {}};
      while (true) {
        std::string part;
        if (i < source.size() && source[i] == '`') {
          size_t close = source.find('`', i + 1);
          if (close == std::string_view::npos) fail(source, i, "unterminated `name`");
          part = std::string(source.substr(i + 1, close - i - 1));
          if (part.empty()) fail(source, i, "empty `name`");
          i = close + 1;
        } else {
          while (i < source.size() && name_char(source[i])) part += source[i++];
          if (part.empty()) fail(source, i, "expected a name after '.'");
        }
        token.parts.push_back(part);
        if (i < source.size() && source[i] == '.') { ++i; continue; }
        break;
      }
      if (token.parts.size() > 1 || source[start] == '`') token.type = Tok::field;
      token.text = std::string(source.substr(start, i - start));
      tokens.push_back(token);
      continue;
    }
    fail(source, start, std::string("unexpected character '") + c + "'");
  }
  tokens.push_back({Tok::end, "", source.size(), {}});
  return tokens;
}

}  // namespace rnnlab::tracking::detail
