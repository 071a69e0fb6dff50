// Reference recurrent backend: plain loops written from the cell equations.
// It exists to check the other backends: clear over fast.
#pragma once

#include <memory>

#include "layers/recurrent.h"

namespace rnnlab::layers {

std::unique_ptr<RecurrentStack> make_reference_stack(const RecurrentOptions& options);

}  // namespace rnnlab::layers
