// Embedding and Linear on flat float buffers: the layers around the recurrent stack.
//
// Conventions shared with the rest of layers/: every tensor is dense, row-major float32;
// parameters live in the model's ONE flat parameter buffer and their gradients at the same
// offsets of its gradient buffer, so functions take raw pointers plus sizes and own nothing.
// Backward functions ADD into parameter gradients (like PyTorch's .grad; the trainer zeroes
// the gradient buffer once per step) and OVERWRITE data gradients (diff_src).
//
// Failure: a bad size or an out-of-range id throws std::invalid_argument naming it (checked
// before anything is written); a oneDNN failure in the GEMM throws std::runtime_error.
// Thread safety: pure functions of their arguments; distinct calls may run concurrently
// when their output buffers do not overlap. Outputs may not alias inputs.
#pragma once

#include <cstdint>

namespace rnnlab::layers {

// ---- Embedding: table [vocab_size, dim] (PyTorch nn.Embedding.weight, Keras embeddings).

// dst[i, :] = table[ids[i], :] for i in [0, count). ids are int32 in [0, vocab_size); any
// other id throws std::invalid_argument naming the id and its position.
void embedding_forward(const float* table, int64_t vocab_size, int64_t dim, const int32_t* ids, int64_t count,
                       float* dst);

// diff_table[ids[i], :] += diff_dst[i, :] (scatter-add; repeated ids accumulate). Rows
// whose id equals padding_id get no gradient (PyTorch's padding_idx); padding_id < 0
// means none.
void embedding_backward(const float* diff_dst, const int32_t* ids, int64_t count, int64_t vocab_size, int64_t dim,
                        float* diff_table, int32_t padding_id = -1);

// ---- Linear: weight [out_features, in_features], bias [out_features] (PyTorch layout).

struct LinearShape {
  int64_t rows = 0;          // batch of vectors, e.g. T * N
  int64_t in_features = 0;
  int64_t out_features = 0;
};

// Parameters of one Linear: out * in + (bias ? out : 0).
int64_t linear_parameter_count(int64_t in_features, int64_t out_features, bool bias = true);

// dst [rows, out] = src [rows, in] * weight^T + bias. bias may be nullptr (no bias).
void linear_forward(const LinearShape& shape, const float* src, const float* weight, const float* bias, float* dst);

// diff_src  [rows, in]  = diff_dst * weight        (overwritten; nullptr skips it)
// diff_weight [out, in] += diff_dst^T * src         (required)
// diff_bias [out]      += sum over rows of diff_dst (nullptr when there is no bias)
void linear_backward(const LinearShape& shape, const float* src, const float* weight, const float* diff_dst,
                     float* diff_src, float* diff_weight, float* diff_bias);

}  // namespace rnnlab::layers
