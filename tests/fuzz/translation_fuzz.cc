// Translation input (trainer/data/translation_text.h, translation_data.h) and the text
// metrics (trainer/translation_metrics.h). The first byte picks what runs on the rest:
//   0  the pair reader, then both tokenizers on every side, then a corpus and its batches
//   1  13a tokens, BLEU and chrF of the text against itself and against its first half
// Besides the rule of fuzz_input.h, it checks what must hold for any text: UTF-8 decoding
// round-trips, a text scores BLEU 1 (or 0 without tokens) and chrF 1 (or 0) against itself,
// and every score lies in [0, 1].
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "tests/fuzz/fuzz_input.h"
#include "trainer/data/translation_data.h"
#include "trainer/data/utf8.h"
#include "trainer/translation_metrics.h"

namespace {

using namespace rnnlab::trainer;
using namespace rnnlab::trainer::data;

const std::string& scratch_path() {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/rnnlab_translation_fuzz." + std::to_string(::getpid());
  }();
  return path;
}

void check(bool condition) {
  if (!condition) __builtin_trap();
}

void pairs(const std::string& path) {
  const PairFile file = read_translation_pairs(path);
  for (const TranslationPair& pair : file.pairs) {
    check(encode_utf8(decode_utf8(pair.source)) == pair.source);
    for (Tokenizer::Level level : {Tokenizer::Level::word, Tokenizer::Level::character}) {
      for (const std::string& token : PairTokenizer{level, true}.split(pair.target)) check(!token.empty());
    }
  }
  TranslationOptions options;
  options.max_length = 8;
  options.val_fraction = 0.2;
  options.test_fraction = 0.2;
  const TranslationCorpus corpus = TranslationCorpus::build(file.pairs, options, path);
  for (const TranslationBatch& batch : corpus.batches(Split::train, {4, 1, 0, 0, 1, true})) {
    check(batch.source.size() == size_t(batch.source_len) * size_t(batch.batch_size));
  }
}

void metrics(const std::string& text) {
  const BleuScore self = corpus_bleu_13a({text}, {text});
  check(self.bleu == 1.0 || self.bleu == 0.0);
  const double chrf = corpus_chrf({text}, {text});
  check(chrf == 1.0 || chrf == 0.0);
  const std::string half = text.substr(0, text.size() / 2);
  const double bleu = corpus_bleu_13a({half}, {text}, {BleuSmoothing::exp, 0.1}).bleu;
  const double partial = corpus_chrf({half}, {text});
  check(bleu >= 0 && bleu <= 1 && partial >= 0 && partial <= 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string content = rnnlab::fuzz::text(data + 1, size - 1);
  if (data[0] % 2 == 1) {
    rnnlab::fuzz::expect_answer([&] { metrics(content); });
    return 0;
  }
  const std::string& path = scratch_path();
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  rnnlab::fuzz::expect_answer([&] { pairs(path); });
  std::remove(path.c_str());
  return 0;
}
