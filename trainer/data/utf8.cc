#include "trainer/data/utf8.h"

namespace rnnlab::trainer::data {
namespace {

constexpr char32_t kEscapeBase = 0xDC80;  // U+DC80 + byte: an undecodable byte

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// The code point of the well-formed sequence at text[i], its length in *length; 0 length
// when the bytes there are not one.
char32_t decode_one(const std::string& text, size_t i, size_t* length) {
  const auto lead = static_cast<unsigned char>(text[i]);
  *length = 0;
  size_t size = 0;
  char32_t value = 0;
  char32_t minimum = 0;
  if (lead < 0x80) {
    *length = 1;
    return lead;
  } else if ((lead >> 5) == 0x6) {
    size = 2, value = lead & 0x1F, minimum = 0x80;
  } else if ((lead >> 4) == 0xE) {
    size = 3, value = lead & 0x0F, minimum = 0x800;
  } else if ((lead >> 3) == 0x1E) {
    size = 4, value = lead & 0x07, minimum = 0x10000;
  } else {
    return 0;
  }
  if (i + size > text.size()) return 0;
  for (size_t k = 1; k < size; ++k) {
    const auto byte = static_cast<unsigned char>(text[i + k]);
    if (!is_continuation(byte)) return 0;
    value = (value << 6) | (byte & 0x3F);
  }
  if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *length = size;
  return value;
}

}  // namespace

std::vector<char32_t> decode_utf8(const std::string& text) {
  std::vector<char32_t> code_points;
  code_points.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t length = 0;
    const char32_t value = decode_one(text, i, &length);
    if (length == 0) {
      code_points.push_back(kEscapeBase + static_cast<unsigned char>(text[i]));
      ++i;
    } else {
      code_points.push_back(value);
      i += length;
    }
  }
  return code_points;
}

void append_utf8(char32_t c, std::string& out) {
  if (c >= kEscapeBase + 0x80 && c <= kEscapeBase + 0xFF) {
    out += char(c - kEscapeBase);
  } else if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xC0 | (c >> 6));
    out += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += char(0xE0 | (c >> 12));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  } else {
    out += char(0xF0 | (c >> 18));
    out += char(0x80 | ((c >> 12) & 0x3F));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  }
}

std::string encode_utf8(const std::vector<char32_t>& code_points) {
  std::string text;
  text.reserve(code_points.size());
  for (char32_t c : code_points) append_utf8(c, text);
  return text;
}

char32_t lower_case(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 0x20;
  if (c < 0xC0) return c;
  if (c <= 0xDE) return c == 0xD7 ? c : c + 0x20;  // Latin-1 capitals, not the sign x
  if (c == 0x178) return 0xFF;                      // Y with diaeresis
  const bool even_capitals = (c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177);
  const bool odd_capitals = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
  if ((even_capitals && c % 2 == 0) || (odd_capitals && c % 2 == 1)) return c + 1;
  if ((c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F)) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  return c;
}

bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_punctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
  }
  // Latin-1's punctuation and symbols, less the feminine/masculine ordinals and micro sign.
  if (c >= 0xA1 && c <= 0xBF) return c != 0xAA && c != 0xB5 && c != 0xBA;
  return c == 0xD7 || c == 0xF7 || (c >= 0x2010 && c <= 0x205E) || (c >= 0x20A0 && c <= 0x20CF) ||
         (c >= 0x3001 && c <= 0x303F);
}

}  // namespace rnnlab::trainer::data
