#include "trainer/data/spans.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace rnnlab::trainer::data {
namespace {

using Tag = SpanTagSet::Tag;

struct IdSpan {
  int64_t begin = 0, end = 0;
  int32_t type = -1;
};

// "O" or PREFIX-TYPE; `types` interns the type names (its index is Tag::type).
Tag parse_tag(const std::string& tag, int64_t position, std::map<std::string, int32_t>& types) {
  if (tag == "O") return {};
  const bool prefixed = tag.size() >= 3 && tag[1] == '-' && std::string("BIES").find(tag[0]) != std::string::npos;
  if (!prefixed) {
    throw std::invalid_argument("tag '" + tag + "' at position " + std::to_string(position) +
                                " is not O or B-TYPE / I-TYPE / E-TYPE / S-TYPE");
  }
  const auto inserted = types.emplace(tag.substr(2), int32_t(types.size()));
  return {tag[0], inserted.first->second};
}

std::vector<Tag> parse_tags(const std::vector<std::string>& tags, std::map<std::string, int32_t>& types) {
  std::vector<Tag> parsed;
  parsed.reserve(tags.size());
  for (size_t i = 0; i < tags.size(); ++i) parsed.push_back(parse_tag(tags[i], int64_t(i), types));
  return parsed;
}

bool inside(const Tag& tag) { return tag.prefix == 'B' || tag.prefix == 'I'; }
bool continues(const Tag& previous, const Tag& tag) {  // I-T / E-T after B-T / I-T
  return inside(previous) && (tag.prefix == 'I' || tag.prefix == 'E') && tag.type == previous.type;
}

// conlleval's endOfChunk (previous -> tag), with S and E -> B as two chunks.
bool chunk_end(const Tag& previous, const Tag& tag) {
  if (previous.prefix == 'O') return false;
  if (previous.prefix == 'E' || previous.prefix == 'S') return true;
  return tag.prefix == 'B' || tag.prefix == 'O' || tag.prefix == 'S' || tag.type != previous.type;
}

// conlleval's startOfChunk, extended the same way.
bool chunk_start(const Tag& previous, const Tag& tag) {
  if (tag.prefix == 'O') return false;
  if (tag.prefix == 'B' || tag.prefix == 'S') return true;
  return previous.prefix == 'O' || previous.prefix == 'E' || previous.prefix == 'S' || tag.type != previous.type;
}

std::vector<IdSpan> chunks(const Tag* tags, int64_t length) {
  std::vector<IdSpan> found;
  Tag previous;
  bool open = false;
  int64_t begin = 0;
  for (int64_t t = 0; t <= length; ++t) {
    const Tag tag = t < length ? tags[t] : Tag{};  // the sentence's end acts as O
    const bool starts = chunk_start(previous, tag);
    if (open && (chunk_end(previous, tag) || starts)) {
      found.push_back({begin, t, previous.type});
      open = false;
    }
    if (starts) {
      begin = t;
      open = true;
    }
    previous = tag;
  }
  return found;
}

int64_t first_invalid(const Tag* tags, int64_t length, TagScheme scheme) {
  Tag previous;
  for (int64_t t = 0; t <= length; ++t) {
    const Tag tag = t < length ? tags[t] : Tag{};
    const int64_t here = std::min(t, length - 1);
    if (scheme == TagScheme::bio) {
      if (tag.prefix == 'E' || tag.prefix == 'S') return here;
      if (tag.prefix == 'I' && !continues(previous, tag)) return here;
    } else {
      if (inside(previous) != continues(previous, tag)) return here;   // B-T / I-T left open
      if ((tag.prefix == 'I' || tag.prefix == 'E') && !continues(previous, tag)) return here;
    }
    previous = tag;
  }
  return -1;
}

// Spans of both sequences, in order of their starts; counts the equal ones.
void add_sentence(const Tag* gold, const Tag* predicted, int64_t length, TagScheme scheme, SpanCounts& counts) {
  const std::vector<IdSpan> expected = chunks(gold, length), found = chunks(predicted, length);
  size_t g = 0;
  for (const IdSpan& span : found) {
    while (g < expected.size() && expected[g].begin < span.begin) ++g;
    if (g < expected.size() && expected[g].begin == span.begin && expected[g].end == span.end &&
        expected[g].type == span.type) {
      ++counts.correct;
    }
  }
  counts.gold += int64_t(expected.size());
  counts.predicted += int64_t(found.size());
  counts.sequences += 1;
  counts.invalid_gold += first_invalid(gold, length, scheme) >= 0 ? 1 : 0;
  counts.invalid_predicted += first_invalid(predicted, length, scheme) >= 0 ? 1 : 0;
}

double ratio(int64_t numerator, int64_t denominator) {
  return denominator > 0 ? double(numerator) / double(denominator) : 0.0;
}

}  // namespace

TagScheme parse_tag_scheme(std::string_view name) {
  if (name == "bio") return TagScheme::bio;
  if (name == "iobes") return TagScheme::iobes;
  throw std::invalid_argument("unknown tag scheme '" + std::string(name) + "' (choices: bio, iobes)");
}

const char* tag_scheme_name(TagScheme scheme) { return scheme == TagScheme::bio ? "bio" : "iobes"; }

std::vector<std::string> tags_from_spans(const std::vector<Span>& spans, int64_t length, TagScheme scheme) {
  std::vector<Span> sorted = spans;
  std::sort(sorted.begin(), sorted.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::vector<std::string> tags(size_t(std::max<int64_t>(length, 0)), "O");
  int64_t free_from = 0;
  for (const Span& span : sorted) {
    const std::string name = "span [" + std::to_string(span.begin) + ", " + std::to_string(span.end) + ") '" +
                             span.type + "'";
    if (span.begin < 0 || span.end <= span.begin || span.end > length || span.type.empty())
      throw std::invalid_argument(name + " is empty, untyped or outside a sentence of " + std::to_string(length) +
                                  " tokens");
    if (span.begin < free_from) throw std::invalid_argument(name + " overlaps the span before it");
    const bool single = span.end - span.begin == 1 && scheme == TagScheme::iobes;
    for (int64_t t = span.begin; t < span.end; ++t) {
      const bool last = t + 1 == span.end && scheme == TagScheme::iobes;
      tags[size_t(t)] = std::string(single ? "S" : t == span.begin ? "B" : last ? "E" : "I") + "-" + span.type;
    }
    free_from = span.end;
  }
  return tags;
}

std::vector<Span> extract_spans(const std::vector<std::string>& tags) {
  std::map<std::string, int32_t> types;
  const std::vector<Tag> parsed = parse_tags(tags, types);
  std::vector<std::string> names(types.size());
  for (const auto& [name, id] : types) names[size_t(id)] = name;
  std::vector<Span> spans;
  for (const IdSpan& span : chunks(parsed.data(), int64_t(parsed.size())))
    spans.push_back({span.begin, span.end, names[size_t(span.type)]});
  return spans;
}

std::vector<std::string> convert_tags(const std::vector<std::string>& tags, TagScheme to) {
  return tags_from_spans(extract_spans(tags), int64_t(tags.size()), to);
}

int64_t first_invalid_tag(const std::vector<std::string>& tags, TagScheme scheme) {
  std::map<std::string, int32_t> types;
  const std::vector<Tag> parsed = parse_tags(tags, types);
  return first_invalid(parsed.data(), int64_t(parsed.size()), scheme);
}

std::vector<std::string> proper_name_tags(const std::vector<std::string>& pos_tags, TagScheme scheme) {
  std::vector<Span> spans;
  const int64_t length = int64_t(pos_tags.size());
  for (int64_t t = 0; t < length; ++t) {
    const bool name = pos_tags[size_t(t)] == "NNP" || pos_tags[size_t(t)] == "NNPS";
    if (!name) continue;
    if (!spans.empty() && spans.back().end == t) {
      spans.back().end = t + 1;
    } else {
      spans.push_back({t, t + 1, "NAME"});
    }
  }
  return tags_from_spans(spans, length, scheme);
}

SpanCounts& SpanCounts::operator+=(const SpanCounts& other) {
  correct += other.correct;
  predicted += other.predicted;
  gold += other.gold;
  sequences += other.sequences;
  invalid_predicted += other.invalid_predicted;
  invalid_gold += other.invalid_gold;
  return *this;
}

double SpanCounts::precision() const { return ratio(correct, predicted); }
double SpanCounts::recall() const { return ratio(correct, gold); }
double SpanCounts::f1() const {
  const double p = precision(), r = recall();
  return p + r > 0.0 ? 2.0 * p * r / (p + r) : 0.0;
}

void count_spans(const std::vector<std::string>& gold, const std::vector<std::string>& predicted, TagScheme scheme,
                 SpanCounts& counts) {
  if (gold.size() != predicted.size()) {
    throw std::invalid_argument("count_spans: " + std::to_string(gold.size()) + " gold tags but " +
                                std::to_string(predicted.size()) + " predicted");
  }
  std::map<std::string, int32_t> types;
  const std::vector<Tag> expected = parse_tags(gold, types), found = parse_tags(predicted, types);
  add_sentence(expected.data(), found.data(), int64_t(gold.size()), scheme, counts);
}

SpanTagSet::SpanTagSet(const std::vector<std::string>& names, TagScheme scheme) : scheme_(scheme) {
  std::map<std::string, int32_t> types;
  tags_ = parse_tags(names, types);
  types_.resize(types.size());
  for (const auto& [name, id] : types) types_[size_t(id)] = name;
}

void SpanTagSet::count(const int32_t* gold, const int32_t* predicted, int64_t length, SpanCounts& counts) const {
  std::vector<Tag> expected(static_cast<size_t>(length)), found(static_cast<size_t>(length));
  for (int64_t t = 0; t < length; ++t) {
    for (const int32_t id : {gold[t], predicted[t]}) {
      if (id < 0 || size_t(id) >= tags_.size())
        throw std::invalid_argument("SpanTagSet::count: tag id " + std::to_string(id) + " at position " +
                                    std::to_string(t) + " is outside [0, " + std::to_string(tags_.size()) + ")");
    }
    expected[size_t(t)] = tags_[size_t(gold[t])];
    found[size_t(t)] = tags_[size_t(predicted[t])];
  }
  add_sentence(expected.data(), found.data(), length, scheme_, counts);
}

void SpanTagSet::count_batch(const int32_t* gold, const int32_t* predicted, int64_t steps, int64_t batch,
                             const int32_t* lengths, SpanCounts& counts) const {
  std::vector<int32_t> gold_row(static_cast<size_t>(steps)), predicted_row(static_cast<size_t>(steps));
  for (int64_t n = 0; n < batch; ++n) {
    if (lengths[n] < 0 || lengths[n] > steps)
      throw std::invalid_argument("SpanTagSet::count_batch: length " + std::to_string(lengths[n]) +
                                  " of sequence " + std::to_string(n) + " is outside [0, " + std::to_string(steps) +
                                  "]");
    for (int64_t t = 0; t < lengths[n]; ++t) {
      gold_row[size_t(t)] = gold[t * batch + n];
      predicted_row[size_t(t)] = predicted[t * batch + n];
    }
    count(gold_row.data(), predicted_row.data(), lengths[n], counts);
  }
}

}  // namespace rnnlab::trainer::data
