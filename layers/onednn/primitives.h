// Private to the oneDNN backend (included only by its .cc files, so dnnl.hpp stays out of
// every public header): creation of the RNN primitives of one layer group.
#pragma once

#include <dnnl.hpp>

#include "layers/recurrent.h"

namespace rnnlab::layers::onednn {

// The problem one primitive runs.
struct GroupShape {
  int layer_count = 1;  // layers run by this primitive
  int input_size = 0;   // channels of its src_layer
  int seq_len = 0;
  int batch = 0;
};

// The memory descriptors a group's tensors use in our own (plain) buffers: tnc data, ldnc
// states, ldgoi weights, ldgo bias and peephole, ldoi projection (see weights.h). Absent
// tensors are zero descriptors.
struct PlainDescs {
  dnnl::memory::desc src_layer, src_iter, src_iter_c, dst_layer, dst_iter, dst_iter_c;
  dnnl::memory::desc weights_layer, weights_iter, bias, peephole, projection;
};
PlainDescs plain_descs(const RecurrentOptions& options, const GroupShape& shape);

// The primitives of one group for one (seq_len, batch) and the weight formats they chose.
struct GroupPrimitives {
  dnnl::primitive forward;
  dnnl::primitive backward;  // training only
  dnnl::memory::desc workspace;
  dnnl::memory::desc fwd_scratchpad, bwd_scratchpad;  // user scratchpads (the caller provides)
  // What forward (and backward) want for the weights; equal to the plain descs when the
  // primitive accepts our layout, in which case no reorder runs.
  dnnl::memory::desc fwd_weights_layer, fwd_weights_iter, fwd_projection;
  dnnl::memory::desc bwd_weights_layer, bwd_weights_iter, bwd_projection;
  dnnl::memory::desc diff_weights_layer, diff_weights_iter, diff_projection;
};

// training=false builds a forward_inference primitive; training=true forward_training plus
// backward. weights_any lets the primitives choose the weight format (else ldigo for
// forward). Throws std::invalid_argument when oneDNN 2.6 has no implementation for the
// combination (naming it), dnnl::error for other oneDNN failures.
GroupPrimitives make_group_primitives(const RecurrentOptions& options, const GroupShape& shape, bool training,
                                      bool weights_any, const dnnl::engine& engine);

}  // namespace rnnlab::layers::onednn
