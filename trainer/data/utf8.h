// UTF-8 code points for the text that is not ASCII: translation pairs (Spanish accents,
// inverted marks), chrF's character n-grams and the 13a tokenizer's whitespace split.
//
// Decoding never fails and never loses a byte: a byte that does not start a well-formed
// sequence (stray continuation, truncated or overlong sequence, surrogate, > U+10FFFF)
// becomes U+DC80 + byte, as Python's "surrogateescape" does, and encode_utf8() writes that
// byte back, so encode_utf8(decode_utf8(s)) == s for every s.
//
// The character classes are the small tables a translation task needs, not the Unicode
// database: lower_case() covers ASCII, Latin-1, Latin Extended-A, basic Greek and Cyrillic;
// is_space() is exactly Python's str.isspace(); is_punctuation() is ASCII punctuation and
// symbols plus the Latin-1 ones (inverted marks, guillemets, ...), general punctuation
// (dashes, curly quotes, ellipsis), currency signs and CJK punctuation.
// Pure functions; thread safe.
#pragma once

#include <string>
#include <vector>

namespace rnnlab::trainer::data {

std::vector<char32_t> decode_utf8(const std::string& text);
void append_utf8(char32_t code_point, std::string& out);
std::string encode_utf8(const std::vector<char32_t>& code_points);

char32_t lower_case(char32_t c);
bool is_space(char32_t c);
bool is_punctuation(char32_t c);

}  // namespace rnnlab::trainer::data
