// Span labelling: tag schemes (BIO, IOBES), conversion between spans and tags, span
// extraction with conlleval's chunk rules, entity-level precision / recall / F1, and a count
// of tag sequences that break their scheme's grammar (the number a CRF should drive to 0).
//
// Tags are `O` or PREFIX-TYPE with PREFIX one of B (begin), I (inside), E (end), S
// (single); BIO uses B, I, O; IOBES all five. TYPE is any text (it may hold '-': only the
// first '-' splits), e.g. B-NAME, I-NAME.
//
// Extraction follows conlleval.pl (CoNLL-2000's evaluation script) exactly for BIO (and
// IOB1 / IOE): a chunk starts at B, at I or E after O / E, and wherever the type changes;
// it ends before B or O, after E when E, I or O follows, and wherever the type changes. So
// an I- after O (or after another type) starts a new chunk instead of being dropped, and
// B-X I-Y is two chunks. For IOBES the same rules are extended the usual way (S both starts
// and ends a chunk; E then B is two chunks); on valid IOBES the chunks are exactly the
// spans. Sentence boundaries end every chunk. A span counts as correct only if a gold span
// has the same type and both ends (conlleval's correctChunk).
//
// Failure: parse_tag_scheme names the choices; a tag that is not O / PREFIX-TYPE, and
// overlapping or out-of-range spans, throw std::invalid_argument naming the tag (or span)
// and its position. Thread safety: pure functions; SpanTagSet is immutable after
// construction (share it freely).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rnnlab::trainer::data {

enum class TagScheme { bio, iobes };
TagScheme parse_tag_scheme(std::string_view name);  // "bio" | "iobes"; unknown throws, naming both
const char* tag_scheme_name(TagScheme scheme);

// Tokens [begin, end) labelled `type`.
struct Span {
  int64_t begin = 0;
  int64_t end = 0;
  std::string type;
  bool operator==(const Span& other) const {
    return begin == other.begin && end == other.end && type == other.type;
  }
};

// Tags of a sentence of `length` tokens holding `spans` (sorted or not; they may not overlap
// or leave [0, length)). BIO: B-T I-T ...; IOBES: S-T for one token, else B-T I-T ... E-T.
std::vector<std::string> tags_from_spans(const std::vector<Span>& spans, int64_t length, TagScheme scheme);
// conlleval's chunks of a tag sequence, in order.
std::vector<Span> extract_spans(const std::vector<std::string>& tags);
// The same tags in another scheme (via extract_spans, so an invalid sequence is repaired
// the conlleval way).
std::vector<std::string> convert_tags(const std::vector<std::string>& tags, TagScheme to);
// Index of the first tag that breaks `scheme`'s grammar, or -1 when the sequence is valid.
// BIO: an I-T not after B-T / I-T, or any E- / S- tag. IOBES: an I-T / E-T not after
// B-T / I-T, a B-T / I-T not followed by I-T / E-T (the sentence's end included).
int64_t first_invalid_tag(const std::vector<std::string>& tags, TagScheme scheme);

// The proper-name spans of a part-of-speech tagged sentence: every maximal run of NNP /
// NNPS tags (Penn Treebank proper nouns) becomes one span of type NAME, in `scheme`
// (BIO: B-NAME I-NAME ..., IOBES: S-NAME or B-NAME ... E-NAME); everything else is O.
std::vector<std::string> proper_name_tags(const std::vector<std::string>& pos_tags, TagScheme scheme);

// Sums that add over batches and ranks (all-reduce each field), then give the rates.
struct SpanCounts {
  int64_t correct = 0;            // predicted spans equal to a gold span (type and both ends)
  int64_t predicted = 0;          // spans in the predictions
  int64_t gold = 0;               // spans in the gold tags
  int64_t sequences = 0;          // sentences counted
  int64_t invalid_predicted = 0;  // predicted sentences that break the scheme
  int64_t invalid_gold = 0;       // gold sentences that break the scheme
  SpanCounts& operator+=(const SpanCounts& other);
  // conlleval's definitions as fractions: 0 when the denominator is 0.
  double precision() const;
  double recall() const;
  double f1() const;
};

// Adds one sentence (gold and predicted tags of equal length) to `counts`.
void count_spans(const std::vector<std::string>& gold, const std::vector<std::string>& predicted, TagScheme scheme,
                 SpanCounts& counts);

// The same on tag ids (a tagger's outputs): names are parsed once. Lengths of padded
// batches select the counted steps.
class SpanTagSet {
 public:
  // names[id]: the tag of output id `id`; a name that is not O / PREFIX-TYPE throws.
  SpanTagSet(const std::vector<std::string>& names, TagScheme scheme);
  TagScheme scheme() const { return scheme_; }
  // One sentence: gold[t], predicted[t] for t < length (ids into names).
  void count(const int32_t* gold, const int32_t* predicted, int64_t length, SpanCounts& counts) const;
  // A time-major batch [T, N] (tags[t * batch + n]) with per-sequence lengths.
  void count_batch(const int32_t* gold, const int32_t* predicted, int64_t steps, int64_t batch,
                   const int32_t* lengths, SpanCounts& counts) const;

  struct Tag {
    char prefix = 'O';  // B, I, E, S or O
    int32_t type = -1;  // index into types(); -1 for O
  };

 private:
  TagScheme scheme_;
  std::vector<Tag> tags_;
  std::vector<std::string> types_;
};

}  // namespace rnnlab::trainer::data
