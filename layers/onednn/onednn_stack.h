// oneDNN (CPU) recurrent backend: the stack on oneDNN 2.6 RNN primitives.
#pragma once

#include <memory>

#include "layers/recurrent.h"

namespace rnnlab::layers {

std::unique_ptr<RecurrentStack> make_onednn_stack(const RecurrentOptions& options);

}  // namespace rnnlab::layers
