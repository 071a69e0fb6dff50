// File readers on small fixtures written to a temporary folder: CSV quoting, word/TAG
// splitting, numeric columns, and errors that name file:line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "trainer/data/readers.h"

namespace rnnlab::trainer::data {
namespace {

namespace fs = std::filesystem;

class ReadersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() /
              ("rnnlab_readers_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }

  std::string write(const std::string& name, const std::string& content) {
    const std::string path = (folder_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  // Runs `read` and returns the std::invalid_argument message ("" when nothing is thrown).
  template <typename Function>
  static std::string error_of(Function read) {
    try {
      read();
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "";
  }

  fs::path folder_;
};

TEST_F(ReadersTest, CsvQuotingCommasDoubledQuotesNewlinesAndBom) {
  const std::string path = write("p.csv",
                                 "\xEF\xBB\xBF\"label\",\"text\"\n"
                                 "\"1\",\"a \"\"quoted\"\" word, and a comma\"\n"
                                 "-1,plain text\r\n"
                                 "\n"
                                 "\"-1\",\"two\nlines \n\"\n");
  const auto examples = read_labeled_csv(path);
  ASSERT_EQ(examples.size(), 3u);
  EXPECT_EQ(examples[0].label, "1");
  EXPECT_EQ(examples[0].text, "a \"quoted\" word, and a comma");
  EXPECT_EQ(examples[0].line, 2);
  EXPECT_EQ(examples[1].text, "plain text");
  EXPECT_EQ(examples[2].label, "-1");
  EXPECT_EQ(examples[2].text, "two\nlines");  // trimmed; inner newline kept
  EXPECT_EQ(examples[2].line, 5);
}

TEST_F(ReadersTest, CsvErrorsNameFileAndLine) {
  const std::string unterminated = write("u.csv", "1,ok\n1,\"never\nclosed\n");
  EXPECT_EQ(error_of([&] { read_labeled_csv(unterminated); }), unterminated + ":2: unterminated quoted field");
  const std::string three = write("t.csv", "1,ok\n\n1,a,b\n");
  EXPECT_EQ(error_of([&] { read_labeled_csv(three); }), three + ":3: expected 2 fields (label,text), found 3");
  const std::string stray = write("s.csv", "1,ok\n1,say \"hi\"\n");
  EXPECT_NE(error_of([&] { read_labeled_csv(stray); }).find(stray + ":2: stray '\"'"), std::string::npos);
}

TEST_F(ReadersTest, TsvLabelTabText) {
  const std::string path = write("c.tsv", "pos\tgood film\n\nneg\tbad\tfilm\n");
  const auto examples = read_labeled_tsv(path);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[1].label, "neg");
  EXPECT_EQ(examples[1].text, "bad\tfilm");  // split on the first tab only
  const std::string bad = write("b.tsv", "pos\tok\nno tab here\n");
  EXPECT_EQ(error_of([&] { read_labeled_tsv(bad); }), bad + ":2: expected 'label<TAB>text', found no tab");
}

TEST_F(ReadersTest, TaggedSplitsOnTheLastSlash) {
  const std::string path = write("t.txt", "Pierre/NNP 1/2/CD and/or/CC ./.\n\nhe/PRP ran/VBD\n");
  const auto sentences = read_tagged(path);
  ASSERT_EQ(sentences.size(), 2u);
  const std::vector<std::string> words = {"Pierre", "1/2", "and/or", "."};
  const std::vector<std::string> tags = {"NNP", "CD", "CC", "."};
  EXPECT_EQ(sentences[0].words, words);
  EXPECT_EQ(sentences[0].tags, tags);
  const std::string bad = write("bad.txt", "a/DT b/NN\nc/DT untagged d/NN\n");
  EXPECT_EQ(error_of([&] { read_tagged(bad); }), bad + ":2: token 'untagged' is not word/TAG");
  const std::string empty_tag = write("e.txt", "a/\n");
  EXPECT_EQ(error_of([&] { read_tagged(empty_tag); }), empty_tag + ":1: token 'a/' is not word/TAG");
}

TEST_F(ReadersTest, NumericColumnByNameLastOrIndex) {
  const std::string path = write("s.csv", "\"YEAR\",\"SUN\"\n1700,5\n1701,11.5\n");
  EXPECT_EQ(read_numeric_column(path, ""), (std::vector<double>{5, 11.5}));
  EXPECT_EQ(read_numeric_column(path, "YEAR"), (std::vector<double>{1700, 1701}));
  EXPECT_NE(error_of([&] { read_numeric_column(path, "MOON"); }).find("has no column 'MOON' (columns: YEAR, SUN)"),
            std::string::npos);
  const std::string headerless = write("h.csv", "1,2\n3,4\n");
  EXPECT_EQ(read_numeric_column(headerless, "1"), (std::vector<double>{1, 3}));
  const std::string bad = write("b.csv", "a,b\n1,2\n3,x\n");
  EXPECT_EQ(error_of([&] { read_numeric_column(bad, "b"); }), bad + ":3: 'x' is not a number");
  const std::string ragged = write("r.csv", "a,b\n1,2\n3\n");
  EXPECT_EQ(error_of([&] { read_numeric_column(ragged, ""); }), ragged + ":3: expected 2 fields, found 1");
}

TEST_F(ReadersTest, TextFolderIsSortedFilesJoinedByNewlines) {
  fs::create_directories(folder_ / "speeches");
  write("speeches/1791_b.txt", "second");
  write("speeches/1790_a.txt", "first");
  write("speeches/.complete", "");
  EXPECT_EQ(read_text((folder_ / "speeches").string()), "first\nsecond");
  EXPECT_NE(error_of([&] { read_text((folder_ / "missing.txt").string()); }).find("does not exist"),
            std::string::npos);
}

}  // namespace
}  // namespace rnnlab::trainer::data
