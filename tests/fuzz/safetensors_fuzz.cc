// A checkpoint's bytes (trainer/checkpoint.h): the safetensors header and its offsets,
// then the trainer's metadata document.
#include <cstring>

#include "tests/fuzz/fuzz_input.h"
#include "trainer/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rnnlab;
  // A copy of exactly `size` bytes, so that ASan sees any read past the end.
  const std::string bytes = fuzz::text(data, size);
  fuzz::expect_answer([&] {
    trainer::Checkpoint checkpoint = trainer::parse_checkpoint(bytes, "fuzz.safetensors");
    // Every tensor holds what its shape says.
    for (const trainer::Tensor& tensor : checkpoint.tensors) {
      size_t count = 1;
      for (int64_t dim : tensor.shape) count *= size_t(dim);
      if (count != tensor.data.size()) __builtin_trap();
    }
  });
  return 0;
}
