// Span labelling (trainer/data/spans.h): schemes, spans <-> tags, conlleval's chunk rules
// on hand-worked sequences, precision / recall / F1 sums, invalid-sequence counts, and the
// id-based counter a tagger uses.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "trainer/data/spans.h"

namespace rnnlab::trainer::data {
namespace {

std::vector<std::string> split(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// Spans as "TYPE[begin,end)" joined by spaces, for readable expectations.
std::string spans_of(const std::string& tags) {
  std::string out;
  for (const Span& span : extract_spans(split(tags))) {
    out += (out.empty() ? "" : " ") + span.type + "[" + std::to_string(span.begin) + "," +
           std::to_string(span.end) + ")";
  }
  return out;
}

SpanCounts counts_of(const std::string& gold, const std::string& predicted, TagScheme scheme = TagScheme::bio) {
  SpanCounts counts;
  count_spans(split(gold), split(predicted), scheme, counts);
  return counts;
}

TEST(Spans, SchemeNames) {
  EXPECT_EQ(parse_tag_scheme("bio"), TagScheme::bio);
  EXPECT_EQ(parse_tag_scheme("iobes"), TagScheme::iobes);
  EXPECT_STREQ(tag_scheme_name(TagScheme::iobes), "iobes");
  try {
    parse_tag_scheme("bilou");
    FAIL() << "no throw";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "unknown tag scheme 'bilou' (choices: bio, iobes)");
  }
}

TEST(Spans, TagsFromSpansInBothSchemes) {
  const std::vector<Span> spans = {{3, 4, "LOC"}, {0, 2, "NAME"}, {4, 7, "NAME"}};  // unsorted on purpose
  const std::vector<std::string> bio = tags_from_spans(spans, 8, TagScheme::bio);
  EXPECT_EQ(bio, split("B-NAME I-NAME O B-LOC B-NAME I-NAME I-NAME O"));
  const std::vector<std::string> iobes = tags_from_spans(spans, 8, TagScheme::iobes);
  EXPECT_EQ(iobes, split("B-NAME E-NAME O S-LOC B-NAME I-NAME E-NAME O"));
  // Round trips, and conversion between schemes.
  std::vector<Span> sorted = {spans[1], spans[0], spans[2]};
  EXPECT_EQ(extract_spans(bio), sorted);
  EXPECT_EQ(extract_spans(iobes), sorted);
  EXPECT_EQ(convert_tags(bio, TagScheme::iobes), iobes);
  EXPECT_EQ(convert_tags(iobes, TagScheme::bio), bio);
  EXPECT_THROW(tags_from_spans({{1, 3, "A"}, {2, 4, "B"}}, 5, TagScheme::bio), std::invalid_argument);
  EXPECT_THROW(tags_from_spans({{3, 6, "A"}}, 5, TagScheme::bio), std::invalid_argument);
  EXPECT_THROW(tags_from_spans({{2, 2, "A"}}, 5, TagScheme::bio), std::invalid_argument);
}

// What conlleval.pl reports as chunks, worked by hand from its startOfChunk/endOfChunk:
TEST(Spans, ConllevalChunkRules) {
  EXPECT_EQ(spans_of("B-PER I-PER O B-LOC"), "PER[0,2) LOC[3,4)");
  // I- after O starts a chunk (O->I is a start), it is not dropped:
  EXPECT_EQ(spans_of("O I-PER I-PER O"), "PER[1,3)");
  // I- at the sentence's start: the line before counts as O.
  EXPECT_EQ(spans_of("I-PER B-PER"), "PER[0,1) PER[1,2)");
  // B->B ends and starts: two one-word chunks.
  EXPECT_EQ(spans_of("B-PER B-PER"), "PER[0,1) PER[1,2)");
  // A type change ends the chunk and starts another, even from B to I:
  EXPECT_EQ(spans_of("B-PER I-LOC I-LOC O"), "PER[0,1) LOC[1,3)");
  EXPECT_EQ(spans_of("B-PER I-PER I-LOC I-LOC"), "PER[0,2) LOC[2,4)");
  // The sentence's end closes an open chunk.
  EXPECT_EQ(spans_of("O O B-ORG I-ORG"), "ORG[2,4)");
  EXPECT_EQ(spans_of("O O O"), "");
  // Types may hold '-': only the first one separates the prefix.
  EXPECT_EQ(spans_of("B-GPE-CITY I-GPE-CITY"), "GPE-CITY[0,2)");
  // IOBES (conlleval's rules extended with S): S is a chunk of its own; E then E, or E then
  // I, starts a new chunk; I after S starts one too.
  EXPECT_EQ(spans_of("S-PER B-LOC E-LOC O"), "PER[0,1) LOC[1,3)");
  EXPECT_EQ(spans_of("B-PER E-PER E-PER"), "PER[0,2) PER[2,3)");
  EXPECT_EQ(spans_of("S-PER I-PER E-PER"), "PER[0,1) PER[1,3)");
  EXPECT_EQ(spans_of("B-PER I-PER S-PER"), "PER[0,2) PER[2,3)");
  EXPECT_EQ(spans_of("B-PER E-PER B-PER"), "PER[0,2) PER[2,3)");
}

TEST(Spans, BadTagsNameTheirPosition) {
  try {
    extract_spans(split("O B-PER NNP"));
    FAIL() << "no throw";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "tag 'NNP' at position 2 is not O or B-TYPE / I-TYPE / E-TYPE / S-TYPE");
  }
  EXPECT_THROW(extract_spans({"B-"}), std::invalid_argument);
  EXPECT_THROW(extract_spans({"X-PER"}), std::invalid_argument);
}

// conlleval's totals, worked by hand: found = predicted chunks, correct = same type, start
// and end; precision = correct / found, recall = correct / gold, F1 = 2PR / (P + R).
TEST(Spans, PrecisionRecallF1AsConllevalCountsThem) {
  // gold PER[0,2) LOC[3,4); guessed PER[0,2) ORG[3,4): 1 of 2 correct -> P = R = F1 = 50%.
  SpanCounts a = counts_of("B-PER I-PER O B-LOC", "B-PER I-PER O B-ORG");
  EXPECT_EQ(a.correct, 1);
  EXPECT_EQ(a.gold, 2);
  EXPECT_EQ(a.predicted, 2);
  EXPECT_DOUBLE_EQ(a.f1(), 0.5);
  // A right start but wrong end is wrong: gold PER[0,2), guessed PER[0,1) (and LOC[2,3)).
  SpanCounts b = counts_of("B-PER I-PER O", "B-PER O B-LOC");
  EXPECT_EQ(b.correct, 0);
  EXPECT_EQ(b.predicted, 2);
  // The guessed I- after O makes the chunk PER[1,3), which matches gold B-PER I-PER at 1..2.
  SpanCounts c = counts_of("O B-PER I-PER", "O I-PER I-PER");
  EXPECT_EQ(c.correct, 1);
  EXPECT_EQ(c.invalid_predicted, 1);
  EXPECT_EQ(c.invalid_gold, 0);
  // Nothing predicted: precision 0 (conlleval prints 0.00), recall 0, F1 0.
  SpanCounts d = counts_of("B-PER O", "O O");
  EXPECT_EQ(d.precision(), 0.0);
  EXPECT_EQ(d.f1(), 0.0);
  // Sums add over batches and ranks: 2 correct of 5 found, 2 of 5 gold.
  SpanCounts total;
  for (const SpanCounts& part : {a, b, c, d}) total += part;
  EXPECT_EQ(total.sequences, 4);
  EXPECT_EQ(total.correct, 2);
  EXPECT_EQ(total.predicted, 5);
  EXPECT_EQ(total.gold, 5);
  EXPECT_DOUBLE_EQ(total.precision(), 0.4);
  EXPECT_DOUBLE_EQ(total.f1(), 0.4);
  EXPECT_THROW(counts_of("O O", "O"), std::invalid_argument);
}

TEST(Spans, InvalidSequencesPerScheme) {
  EXPECT_EQ(first_invalid_tag(split("B-A I-A O B-B"), TagScheme::bio), -1);
  EXPECT_EQ(first_invalid_tag(split("O I-A"), TagScheme::bio), 1);          // I- after O
  EXPECT_EQ(first_invalid_tag(split("I-A"), TagScheme::bio), 0);            // I- first
  EXPECT_EQ(first_invalid_tag(split("B-A I-B"), TagScheme::bio), 1);        // I- after another type
  EXPECT_EQ(first_invalid_tag(split("B-A E-A"), TagScheme::bio), 1);        // E- is not BIO
  EXPECT_EQ(first_invalid_tag(split("S-A B-A I-A E-A O"), TagScheme::iobes), -1);
  EXPECT_EQ(first_invalid_tag(split("B-A O"), TagScheme::iobes), 1);        // B- never closed
  EXPECT_EQ(first_invalid_tag(split("O B-A I-A"), TagScheme::iobes), 2);    // open at the end
  EXPECT_EQ(first_invalid_tag(split("O E-A"), TagScheme::iobes), 1);        // E- after O
  EXPECT_EQ(first_invalid_tag(split("B-A E-B"), TagScheme::iobes), 1);      // type change
  EXPECT_EQ(first_invalid_tag(split("S-A I-A E-A"), TagScheme::iobes), 1);  // I- after S-
  // Valid IOBES is invalid BIO and vice versa (unclosed B-).
  EXPECT_EQ(first_invalid_tag(split("S-A"), TagScheme::bio), 0);
  EXPECT_EQ(first_invalid_tag(split("B-A"), TagScheme::iobes), 0);
}

TEST(Spans, TagIdsOfAPaddedBatch) {
  const SpanTagSet set({"B-NAME", "I-NAME", "O"}, TagScheme::bio);
  // Time-major [T=3, N=2]: sequence 0 (length 3) gold B I O, predicted B I O (correct);
  // sequence 1 (length 2) gold O B, predicted I I (invalid; chunk [0,2) is wrong). The
  // padded step of sequence 1 holds garbage ids.
  const std::vector<int32_t> gold = {0, 2, 1, 0, 2, 99};
  const std::vector<int32_t> predicted = {0, 1, 1, 1, 2, -5};
  const std::vector<int32_t> lengths = {3, 2};
  SpanCounts counts;
  set.count_batch(gold.data(), predicted.data(), 3, 2, lengths.data(), counts);
  EXPECT_EQ(counts.sequences, 2);
  EXPECT_EQ(counts.gold, 2);
  EXPECT_EQ(counts.predicted, 2);
  EXPECT_EQ(counts.correct, 1);
  EXPECT_EQ(counts.invalid_predicted, 1);
  EXPECT_EQ(counts.invalid_gold, 0);
  const std::vector<int32_t> bad = {0, 3};
  EXPECT_THROW(set.count(bad.data(), bad.data(), 2, counts), std::invalid_argument);
  EXPECT_THROW(SpanTagSet({"B-NAME", "NNP"}, TagScheme::bio), std::invalid_argument);
}

}  // namespace
}  // namespace rnnlab::trainer::data
