// Command-line overrides (`key=value`, trainer/config.h), one per input line, applied to an
// empty config file in order.
#include <sstream>
#include <vector>

#include "tests/fuzz/fuzz_input.h"
#include "trainer/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rnnlab;
  std::vector<std::string> overrides;
  std::istringstream lines(fuzz::text(data, size));
  for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  fuzz::expect_answer([&] { trainer::parse_config("", "fuzz.yaml", overrides); });
  return 0;
}
