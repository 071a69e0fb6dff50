// Parameter initialisation for the recurrent stack, Linear and Embedding, by scheme name.
//
// Every value is drawn from layers/random.h's counter-based generator: the value of
// element i of a tensor is a pure function of (seed, tensor, i), so results never depend
// on thread count or call order, and the same seed always gives the same model.
//
// Schemes (the trainer's `model.init: auto` picks one per task: trainer/config_schema.cc):
//   keras    input kernels Glorot-uniform with Keras's fans (kernel [I, G*H]: fan_in = I,
//            fan_out = G*H), recurrent kernels orthogonal over the whole [S, G*H] Keras
//            matrix (QR of a normal matrix with sign correction, so the canonical
//            weight_hh [G*H, S] has orthonormal columns: W_hh^T W_hh = I_S), biases 0,
//            LSTM forget-gate bias 1 (unit_forget_bias). Embedding uniform(-0.05, 0.05);
//            Linear (Dense) Glorot-uniform (fan_in = in, fan_out = out), bias 0.
//   pytorch  every recurrent weight and bias uniform(-1/sqrt(H), 1/sqrt(H)); the canonical
//            single RNN/LSTM bias B = b_ih + b_hh is drawn as the sum of two such uniforms
//            (what PyTorch's two biases add up to); GRU's two biases are drawn apart.
//            Embedding N(0, 1); Linear weight and bias uniform(-1/sqrt(in), 1/sqrt(in)).
// Parameters neither library defines (documented choice):
//   projection weight_hr [S, H]: keras: Glorot-uniform (fan_in = H, fan_out = S, as a
//            Dense from H to S would get); pytorch: uniform(-1/sqrt(H), 1/sqrt(H)), which
//            is what torch.nn.LSTM(proj_size=...) does.
//   peephole weight_peephole [3, H]: keras: 0, so training starts from the plain LSTM
//            Keras would build (the gradient still reaches them through c); pytorch:
//            uniform(-1/sqrt(H), 1/sqrt(H)) like every other PyTorch LSTM parameter.
//
// Seeds: tensors of one call draw from distinct streams. Two Linear/Embedding layers of
// one model must get distinct seeds; derive them with init_seed(model_seed, layer_index).
//
// Failure: an unknown scheme name throws std::invalid_argument listing the choices; bad
// sizes throw std::invalid_argument naming them. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "layers/recurrent.h"

namespace rnnlab::layers {

enum class InitScheme { keras, pytorch };

InitScheme parse_init_scheme(std::string_view name);  // "keras" | "pytorch"
std::string_view to_string(InitScheme scheme);

// A per-layer seed derived from a model seed (distinct layers -> independent values).
uint64_t init_seed(uint64_t model_seed, uint64_t layer_index);

// Fills the canonical buffer (recurrent_parameters(options) layout, recurrent_parameter_count
// floats). Validates the options.
void init_recurrent(const RecurrentOptions& options, InitScheme scheme, uint64_t seed, float* params);

// weight [out, in] (PyTorch layout); bias [out] or nullptr.
void init_linear(int64_t in_features, int64_t out_features, InitScheme scheme, uint64_t seed, float* weight,
                 float* bias);

// table [vocab_size, dim]. padding_id >= 0 zeroes that row (PyTorch's padding_idx).
void init_embedding(int64_t vocab_size, int64_t dim, InitScheme scheme, uint64_t seed, float* table,
                    int32_t padding_id = -1);

// Exposed for tests and for models that want it elsewhere: fills m [rows, cols] with the
// orthogonal matrix Keras's Orthogonal(gain=1) draws for that shape, from N(0,1) values of
// (seed, stream): orthonormal columns if rows >= cols, orthonormal rows otherwise.
void init_orthogonal(int64_t rows, int64_t cols, uint64_t seed, uint64_t stream, float* m);

}  // namespace rnnlab::layers
