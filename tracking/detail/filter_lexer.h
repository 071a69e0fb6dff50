// Internal to tracking: the lexer of the run filter language (filter.h), and the one error
// every stage of filter.cc reports, "malformed filter at column N: what" with a caret.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rnnlab::tracking::detail {

enum class Tok { word, field, number, string, op, lparen, rparen, comma, end };

struct Token {
  Tok type;
  std::string text;  // word/field: as written (backticks removed); string: unquoted
  size_t position;   // 0-based offset into the filter
  std::vector<std::string> parts;  // field: the dot-separated names
};

// Throws std::invalid_argument: the message, the filter, and a caret under `position`.
[[noreturn]] void fail(std::string_view source, size_t position, const std::string& what);

std::string lower(std::string_view text);

// The tokens of `source`, ending with a Tok::end token; fail()s on a malformed token.
std::vector<Token> lex(std::string_view source);

}  // namespace rnnlab::tracking::detail
