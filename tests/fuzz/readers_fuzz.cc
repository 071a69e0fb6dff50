// The data file readers (trainer/data/readers.h). The first byte picks the format (and,
// for numeric CSV, the column); the rest is the file, written to a scratch file because
// the readers take paths.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "tests/fuzz/fuzz_input.h"
#include "trainer/data/readers.h"

namespace {

const std::string& scratch_path() {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/rnnlab_readers_fuzz." +
           std::to_string(::getpid());
  }();
  return path;
}

// A series is what the model trains on: every value a finite number.
void finite(const std::vector<double>& values) {
  for (double value : values)
    if (!std::isfinite(value)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rnnlab::trainer::data;
  if (size == 0) return 0;
  const std::string& path = scratch_path();
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(data + 1), std::streamsize(size - 1));
  }
  const std::string content = rnnlab::fuzz::text(data + 1, size - 1);
  rnnlab::fuzz::expect_answer([&] {
    switch (data[0] % 8) {
      case 0: read_text(path); break;
      case 1: read_labeled_tsv(path); break;
      case 2: read_labeled_csv(path); break;
      case 3: read_tagged(path); break;
      case 4: finite(read_numeric_column(path, "")); break;
      case 5: finite(read_numeric_column(path, "2")); break;
      case 6: finite(read_numeric_column(path, "value")); break;
      default: parse_csv(content, "fuzz.csv"); break;
    }
  });
  std::remove(path.c_str());
  return 0;
}
