#include "layers/tuned_stack.h"

#ifdef RNNLAB_HAVE_ONEDNN
#include "layers/onednn/onednn_stack.h"
#endif

namespace rnnlab::layers {

std::unique_ptr<RecurrentStack> make_tuned_stack(std::string_view backend, const RecurrentOptions& options,
                                                 const StackTuning& tuning) {
#ifdef RNNLAB_HAVE_ONEDNN
  if (backend == "onednn") {
    OnednnTuning onednn;
    onednn.weights_any = tuning.weights_any;
    onednn.fuse_layers = tuning.fuse_layers;
    return make_onednn_stack(options, onednn);
  }
#endif
  return make_recurrent_stack(backend, options);
}

}  // namespace rnnlab::layers
