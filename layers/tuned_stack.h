// The recurrent stack with the build choices `rnnlab bench` measures (docs/performance.md),
// behind one public entry point, so that callers outside layers/ never include a backend
// header (layers/onednn/...). The defaults are what make_recurrent_stack() builds: the best
// measured.
//
// Contract: as make_recurrent_stack() (recurrent.h): an unknown or unbuilt backend throws
// std::invalid_argument listing those built; invalid options throw std::invalid_argument.
// A backend without a given choice ignores it (the reference loops have none; cuDNN's are
// set per call on the GPU benchmark's step). The oneDNN stack is returned as the backend
// builds it, without the padded-sequence wrapper (benchmarks run full-length batches).
// Thread safety: a factory; the stack it returns is as RecurrentStack says.
#pragma once

#include <memory>
#include <string_view>

#include "layers/recurrent.h"

namespace rnnlab::layers {

struct StackTuning {
  // oneDNN: let the primitives pick the weight format (format_tag::any) instead of ldigo.
  bool weights_any = true;
  // oneDNN: all layers in one primitive where oneDNN allows it (one direction, input size ==
  // state size, no dropout); false runs one primitive per layer always.
  bool fuse_layers = true;
};

std::unique_ptr<RecurrentStack> make_tuned_stack(std::string_view backend, const RecurrentOptions& options,
                                                 const StackTuning& tuning);

}  // namespace rnnlab::layers
