// data.scheme for the tag task (builders.h: apply_tag_scheme): span tags checked against
// BIO / IOBES, and the proper-name spans of the POS data sets.
#include <stdexcept>

#include "trainer/data/builders.h"
#include "trainer/data/spans.h"

namespace rnnlab::trainer::data {
namespace {

std::string where(const std::string& path, const TaggedSentence& sentence, size_t token) {
  return path + ":" + std::to_string(sentence.line) + ": token " + std::to_string(token + 1) + ": ";
}

// Every tag is O / PREFIX-TYPE with a prefix the scheme has; else file:line names it.
void check_tags(const std::string& path, const TaggedSentence& sentence, TagScheme scheme) {
  for (size_t i = 0; i < sentence.tags.size(); ++i) {
    const std::string& tag = sentence.tags[i];
    try {
      first_invalid_tag({tag}, scheme);  // throws on a tag that is not O / PREFIX-TYPE
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument(where(path, sentence, i) + "tag '" + tag + "' is not O or PREFIX-TYPE (data.scheme " +
                                  tag_scheme_name(scheme) + "; use data.scheme: none for plain tags)");
    }
    if (scheme == TagScheme::bio && (tag[0] == 'E' || tag[0] == 'S')) {
      throw std::invalid_argument(where(path, sentence, i) + "tag '" + tag +
                                  "' is an IOBES tag but data.scheme is bio (use iobes)");
    }
  }
}

}  // namespace

std::string apply_tag_scheme(const DataConfig& data, const std::string& path, bool proper_names,
                             std::vector<TaggedSentence>& sentences, std::vector<std::string>& warnings) {
  std::string name = data.scheme.empty() || data.scheme == "auto" ? (proper_names ? "bio" : "none") : data.scheme;
  if (name == "none") {
    if (proper_names) {
      throw std::invalid_argument("key 'data.scheme': the name-span data sets hold span tags; use bio or iobes, "
                                  "not none");
    }
    return "";
  }
  TagScheme scheme = TagScheme::bio;
  try {
    scheme = parse_tag_scheme(name);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("key 'data.scheme': unknown tag scheme '" + name +
                                "' (choices: auto, none, bio, iobes)");
  }
  if (proper_names) {
    for (TaggedSentence& sentence : sentences) sentence.tags = proper_name_tags(sentence.tags, scheme);
    return name;
  }
  int64_t invalid = 0;
  std::string first;
  for (const TaggedSentence& sentence : sentences) {
    check_tags(path, sentence, scheme);
    const int64_t position = first_invalid_tag(sentence.tags, scheme);
    if (position < 0) continue;
    if (invalid++ == 0) {
      const size_t at = size_t(position);
      first = "line " + std::to_string(sentence.line) + ", token " + std::to_string(at + 1) + " '" +
              sentence.tags[at] + "', previous '" + (at == 0 ? std::string("none") : sentence.tags[at - 1]) + "'";
    }
  }
  if (invalid > 0) {
    warnings.push_back(path + ": " + std::to_string(invalid) + " of " + std::to_string(sentences.size()) +
                       " sentences break the " + name + " scheme (first: " + first +
                       "); their spans are read the conlleval way (an I- after O starts a span)");
  }
  return name;
}

}  // namespace rnnlab::trainer::data
