// A sweep file (experiments/sweep.h). It names no folder that exists, so a `base:` path
// fails to open; inline base configs go through the config loader.
#include "experiments/sweep.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rnnlab;
  fuzz::expect_answer([&] {
    experiments::parse_sweep(fuzz::text(data, size), "/nonexistent/fuzz/sweep.yaml");
  });
  return 0;
}
