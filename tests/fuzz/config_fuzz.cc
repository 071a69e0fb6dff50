// A training config file (trainer/config.h): YAML through the schema and the rules.
#include "tests/fuzz/fuzz_input.h"
#include "trainer/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rnnlab;
  fuzz::expect_answer([&] {
    trainer::Config config = trainer::parse_config(fuzz::text(data, size), "fuzz.yaml");
    // What loads must round-trip (config_to_yaml promises it).
    trainer::Config again = trainer::parse_config(trainer::config_to_yaml(config), "again.yaml");
    if (trainer::flatten_config(again) != trainer::flatten_config(config)) __builtin_trap();
  });
  return 0;
}
