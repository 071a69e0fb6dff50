// Span data for the tag task: the CoNLL column reader, data.scheme checks (errors name
// file:line; an I- after O is a warning count), and the proper-name data sets derived from
// the POS ones (wsj_names, oanc_names; skipped, saying how to fetch, when not fetched).
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>

#include "trainer/data/datasets.h"
#include "trainer/data/readers.h"
#include "trainer/data/spans.h"
#include "trainer/data/task_data.h"
#include "tests/trainer/train_test_util.h"

namespace rnnlab::trainer::data {
namespace {

// A temporary folder per test (train_test_util.h) and configs over files written to it.
class SpanSetsTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& content) { return folder_.write(name, content); }

  static Config file_config(const std::string& path, const std::string& format, const std::string& scheme) {
    Config config;
    config.task = "tag";
    config.data.dataset = "file";
    config.data.path = path;
    config.data.format = format;
    config.data.scheme = scheme;
    return config;
  }

  // The std::invalid_argument message of `run`, "" when it does not throw.
  static std::string error_of(const std::function<void()>& run) {
    try {
      run();
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "";
  }

  testing_util::TempFolder folder_;
};

TEST_F(SpanSetsTest, ConllColumnsWithBlankLinesBetweenSentences) {
  const std::string path = write("a.conll",
                                 "-DOCSTART- -X- -X- O\n"
                                 "\n"
                                 "EU NNP B-NP B-ORG\r\n"
                                 "rejects VBZ B-VP O\n"
                                 "\n"
                                 "\n"
                                 "Peter B-PER\n"
                                 "Blackburn\tI-PER\n");
  const std::vector<TaggedSentence> sentences = read_conll(path);
  ASSERT_EQ(sentences.size(), 2u);
  EXPECT_EQ(sentences[0].words, (std::vector<std::string>{"EU", "rejects"}));
  EXPECT_EQ(sentences[0].tags, (std::vector<std::string>{"B-ORG", "O"}));  // the last column
  EXPECT_EQ(sentences[0].line, 3);
  EXPECT_EQ(sentences[1].tags, (std::vector<std::string>{"B-PER", "I-PER"}));
  EXPECT_EQ(sentences[1].line, 7);
}

TEST_F(SpanSetsTest, ReaderErrorsNameFileAndLine) {
  const std::string no_tag = write("b.conll", "EU B-ORG\nrejects\n");
  EXPECT_EQ(error_of([&] { read_conll(no_tag); }),
            no_tag + ":2: expected `word TAG` columns, found 'rejects' alone (a line with no tag)");
  const std::string empty = write("c.conll", "\n\n-DOCSTART- O\n");
  EXPECT_EQ(error_of([&] { read_conll(empty); }), "data file '" + empty + "' holds no sentences");
  // Columns read as word/TAG: the message says which format to use.
  const std::string columns = write("d.txt", "EU B-ORG\n");
  EXPECT_NE(error_of([&] { read_tagged(columns); }).find("use data.format: conll"), std::string::npos);
  EXPECT_EQ(read_tagged(write("e.txt", "\nThe/DT dog/NN\n"))[0].line, 2);
}

TEST_F(SpanSetsTest, ProperNameSpansOfPosTags) {
  // WSJ's first sentence: Pierre/NNP Vinken/NNP ,/, 61/CD ... director/NN Nov./NNP 29/CD ./.
  const std::vector<std::string> pos = {"NNP", "NNP", ",", "CD", "NNPS", "NN", "NNP", "NNPS", "NNP"};
  EXPECT_EQ(proper_name_tags(pos, TagScheme::bio),
            (std::vector<std::string>{"B-NAME", "I-NAME", "O", "O", "B-NAME", "O", "B-NAME", "I-NAME", "I-NAME"}));
  EXPECT_EQ(proper_name_tags(pos, TagScheme::iobes),
            (std::vector<std::string>{"B-NAME", "E-NAME", "O", "O", "S-NAME", "O", "B-NAME", "I-NAME", "E-NAME"}));
  EXPECT_EQ(proper_name_tags({"DT", "NN"}, TagScheme::bio), (std::vector<std::string>{"O", "O"}));
}

// Ten sentences of span tags; sentence 3 (line 7 of the file) has an I- after O.
std::string conll_sentences() {
  std::string text;
  for (int i = 0; i < 10; ++i) {
    text += "Mr B-PER\nSmith I-PER\nsaw O\n" + std::string(i == 3 ? "Paris I-LOC\n" : "Paris B-LOC\n") + "\n";
  }
  return text;
}

TEST_F(SpanSetsTest, SchemeOnAFileWarnsAboutInvalidSequences) {
  const std::string path = write("spans.conll", conll_sentences());
  const auto data = make_task_data(file_config(path, "conll", "bio"));
  EXPECT_EQ(data->info().tag_scheme, "bio");
  EXPECT_EQ(data->info().output_size, 5);  // B-LOC B-PER I-LOC I-PER O
  const std::vector<std::string> warnings = data->warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], path +
                             ": 1 of 10 sentences break the bio scheme (first: line 16, token 4 'I-LOC', previous "
                             "'O'); their spans are read the conlleval way (an I- after O starts a span)");
  // Without a scheme the same tags are plain labels: no span checks, no warning.
  const auto plain = make_task_data(file_config(path, "conll", "auto"));
  EXPECT_EQ(plain->info().tag_scheme, "");
  EXPECT_TRUE(plain->warnings().empty());
}

TEST_F(SpanSetsTest, SchemeErrorsNameTheKeyOrTheLine) {
  const std::string path = write("spans.conll", conll_sentences());
  EXPECT_EQ(error_of([&] { make_task_data(file_config(path, "conll", "bilou")); }),
            "key 'data.scheme': unknown tag scheme 'bilou' (choices: auto, none, bio, iobes)");
  const std::string pos = write("pos.txt", "The/DT dog/NN\nA/DT cat/NNP\n");
  EXPECT_EQ(error_of([&] { make_task_data(file_config(pos, "tagged", "bio")); }),
            pos + ":1: token 1: tag 'DT' is not O or PREFIX-TYPE (data.scheme bio; use data.scheme: none for plain "
                  "tags)");
  const std::string iobes = write("iobes.conll", "Paris S-LOC\n\nMr B-PER\nSmith E-PER\n");
  EXPECT_EQ(error_of([&] { make_task_data(file_config(iobes, "conll", "bio")); }),
            iobes + ":1: token 1: tag 'S-LOC' is an IOBES tag but data.scheme is bio (use iobes)");
  EXPECT_EQ(error_of([&] { make_task_data(file_config(iobes, "conll", "iobes")); }), "");
}

#define SKIP_UNLESS_FETCHED(name)                                                                             \
  do {                                                                                                        \
    if (!dataset_fetched(find_dataset(name))) {                                                               \
      GTEST_SKIP() << "data set '" << name << "' is not fetched in " << data_root() << ": run tools/fetch-data " \
                   << find_dataset(name).derived_from;                                                        \
    }                                                                                                         \
  } while (0)

// Span count of a derived data set over its whole file (all splits), printed.
int64_t count_name_spans(const std::string& name) {
  const std::vector<TaggedSentence> sentences = read_tagged(dataset_path(find_dataset(name)));
  int64_t spans = 0, tokens = 0;
  for (const TaggedSentence& sentence : sentences) {
    const std::vector<std::string> tags = proper_name_tags(sentence.tags, TagScheme::bio);
    EXPECT_EQ(first_invalid_tag(tags, TagScheme::bio), -1);
    spans += int64_t(extract_spans(tags).size());
    tokens += int64_t(tags.size());
  }
  std::printf("%s: %lld name spans in %zu lines, %lld tokens\n", name.c_str(), static_cast<long long>(spans),
              sentences.size(), static_cast<long long>(tokens));
  return spans;
}

TEST(NameSpanSets, WsjNamesFromTheGoldTags) {
  SKIP_UNLESS_FETCHED("wsj_names");
  Config config;
  config.task = "tag";
  config.data.dataset = "wsj_names";
  const auto data = make_task_data(config);
  EXPECT_EQ(data->info().tag_scheme, "bio");
  EXPECT_EQ(data->output_vocabulary()->tokens(), (std::vector<std::string>{"B-NAME", "I-NAME", "O"}));
  EXPECT_TRUE(data->warnings().empty());
  // The first line: Pierre Vinken (0-1) and Nov. (15).
  const TaggedSentence first = read_tagged(dataset_path(find_dataset("wsj_pos")))[0];
  const std::vector<Span> spans = extract_spans(proper_name_tags(first.tags, TagScheme::bio));
  EXPECT_EQ(spans, (std::vector<Span>{{0, 2, "NAME"}, {15, 16, "NAME"}}));
  const int64_t total = count_name_spans("wsj_names");
  EXPECT_GT(total, 1000);
  config.data.scheme = "iobes";
  EXPECT_EQ(make_task_data(config)->info().output_size, 5);  // B E I O S
  config.data.scheme = "none";
  EXPECT_THROW(make_task_data(config), std::invalid_argument);  // name spans need bio or iobes
}

TEST(NameSpanSets, OancNames) {
  SKIP_UNLESS_FETCHED("oanc_names");
  EXPECT_GT(count_name_spans("oanc_names"), 1000);
}

}  // namespace
}  // namespace rnnlab::trainer::data
