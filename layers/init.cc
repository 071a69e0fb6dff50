#include "layers/init.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "layers/random.h"

namespace rnnlab::layers {
namespace {

// Streams: tensor t of one call draws uniforms from stream kTensorStream + t; a second
// independent draw for the same tensor (the PyTorch b_hh half of a combined bias) uses
// kSecondDrawStream + t. Fixed constants: changing them changes every model.
constexpr uint64_t kTensorStream = 0x1000'0000ull;
constexpr uint64_t kSecondDrawStream = 0x2000'0000ull;
constexpr uint64_t kLayerSeedStream = 0x3000'0000ull;

void require(bool ok, const char* function, const std::string& message) {
  if (!ok) throw std::invalid_argument(std::string(function) + ": " + message);
}

// uniform(-limit, limit): the generator gives [0, 1) with 24 bits; after rounding to
// float the values lie in [-limit, limit].
void fill_uniform(float* dst, int64_t count, float limit, uint64_t seed, uint64_t stream) {
  for (int64_t i = 0; i < count; ++i)
    dst[i] = float(-double(limit) + 2.0 * double(limit) * double(random_uniform(seed, stream, uint64_t(i))));
}

void fill_normal(float* dst, int64_t count, uint64_t seed, uint64_t stream) {
  for (int64_t i = 0; i < count; ++i) dst[i] = float(random_normal(seed, stream, uint64_t(i)));
}

void fill_value(float* dst, int64_t count, float value) {
  for (int64_t i = 0; i < count; ++i) dst[i] = value;
}

float glorot_limit(int64_t fan_in, int64_t fan_out) { return float(std::sqrt(6.0 / double(fan_in + fan_out))); }

bool starts_with(const std::string& name, std::string_view prefix) { return name.rfind(prefix, 0) == 0; }

}  // namespace

InitScheme parse_init_scheme(std::string_view name) {
  if (name == "keras") return InitScheme::keras;
  if (name == "pytorch") return InitScheme::pytorch;
  throw std::invalid_argument("unknown init scheme '" + std::string(name) + "' (choices: keras, pytorch)");
}

std::string_view to_string(InitScheme scheme) { return scheme == InitScheme::keras ? "keras" : "pytorch"; }

uint64_t init_seed(uint64_t model_seed, uint64_t layer_index) {
  return random_bits(model_seed, kLayerSeedStream, layer_index);
}

void init_orthogonal(int64_t rows, int64_t cols, uint64_t seed, uint64_t stream, float* m) {
  require(rows > 0 && cols > 0, "init_orthogonal",
          "rows and cols must be > 0, got " + std::to_string(rows) + " x " + std::to_string(cols));
  // Keras's Orthogonal: QR of a normal [tall, narrow] matrix (the shape transposed when
  // rows < cols), Q's columns multiplied by sign(diag(R)), transposed back if needed.
  // Q with sign correction is the unique QR factor whose R has a positive diagonal, which
  // is exactly what Gram-Schmidt produces, so we run Gram-Schmidt (twice per column,
  // "CGS2", for orthogonality to rounding) in double.
  const int64_t tall = std::max(rows, cols), narrow = std::min(rows, cols);
  // 1. Normal draws, column j of the tall matrix contiguous in q[j * tall ...].
  std::vector<double> q(size_t(tall * narrow));
  for (int64_t i = 0; i < tall; ++i)
    for (int64_t j = 0; j < narrow; ++j)
      q[size_t(j * tall + i)] = random_normal(seed, stream, uint64_t(i * narrow + j));
  // 2. Orthonormalise the columns in order.
  for (int64_t j = 0; j < narrow; ++j) {
    double* v = &q[size_t(j * tall)];
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t p = 0; p < j; ++p) {
        const double* u = &q[size_t(p * tall)];
        double dot = 0.0;
        for (int64_t i = 0; i < tall; ++i) dot += u[i] * v[i];
        for (int64_t i = 0; i < tall; ++i) v[i] -= dot * u[i];
      }
    }
    double norm = 0.0;
    for (int64_t i = 0; i < tall; ++i) norm += v[i] * v[i];
    norm = std::sqrt(norm);
    // A normal matrix is rank-deficient with probability 0; this guards a broken generator.
    if (!(norm > 1e-12)) throw std::runtime_error("init_orthogonal: degenerate random matrix");
    for (int64_t i = 0; i < tall; ++i) v[i] /= norm;
  }
  // 3. Write m [rows, cols]: Q itself when rows >= cols, else Q^T.
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      m[r * cols + c] = float(rows >= cols ? q[size_t(c * tall + r)] : q[size_t(r * tall + c)]);
}

void init_recurrent(const RecurrentOptions& options, InitScheme scheme, uint64_t seed, float* params) {
  const std::vector<ParamInfo> infos = recurrent_parameters(options);  // validates
  const int64_t hidden = options.hidden_size;
  const float pytorch_limit = float(1.0 / std::sqrt(double(hidden)));
  for (size_t t = 0; t < infos.size(); ++t) {
    const ParamInfo& info = infos[t];
    float* dst = params + info.offset;
    const uint64_t stream = kTensorStream + t;
    const int64_t count = info.size();
    if (scheme == InitScheme::pytorch) {
      fill_uniform(dst, count, pytorch_limit, seed, stream);
      // RNN/LSTM keep one bias B = b_ih + b_hh: add PyTorch's second uniform draw.
      if (starts_with(info.name, "bias_ih") && options.cell != Cell::gru) {
        for (int64_t i = 0; i < count; ++i)
          dst[i] = float(double(dst[i]) - pytorch_limit +
                         2.0 * pytorch_limit * double(random_uniform(seed, kSecondDrawStream + t, uint64_t(i))));
      }
      continue;
    }
    // Keras.
    const int64_t gates_hidden = info.shape[0];
    if (starts_with(info.name, "weight_ih")) {
      // Keras kernel [I, G*H]: fan_in = I, fan_out = G*H.
      fill_uniform(dst, count, glorot_limit(info.shape[1], gates_hidden), seed, stream);
    } else if (starts_with(info.name, "weight_hh")) {
      // Keras recurrent_kernel [S, G*H] orthogonal; ours is its transpose [G*H, S], i.e.
      // the tall orthonormal-column Q itself.
      init_orthogonal(info.shape[0], info.shape[1], seed, stream, dst);
    } else if (starts_with(info.name, "bias_")) {
      fill_value(dst, count, 0.0f);
      // unit_forget_bias: LSTM gate order i, f, g, o -> block 1 is the forget gate.
      if (options.cell == Cell::lstm) fill_value(dst + hidden, hidden, 1.0f);
    } else if (starts_with(info.name, "weight_hr")) {
      // [S, H] maps H -> S like a Dense(S) on H inputs.
      fill_uniform(dst, count, glorot_limit(info.shape[1], info.shape[0]), seed, stream);
    } else if (starts_with(info.name, "weight_peephole")) {
      fill_value(dst, count, 0.0f);
    } else {
      // A tensor added to recurrent_parameters() without an init rule here is a bug.
      throw std::logic_error("init_recurrent: no init rule for parameter '" + info.name + "'");
    }
  }
}

void init_linear(int64_t in_features, int64_t out_features, InitScheme scheme, uint64_t seed, float* weight,
                 float* bias) {
  require(in_features > 0, "init_linear", "in_features must be > 0, got " + std::to_string(in_features));
  require(out_features > 0, "init_linear", "out_features must be > 0, got " + std::to_string(out_features));
  const int64_t count = in_features * out_features;
  if (scheme == InitScheme::keras) {
    fill_uniform(weight, count, glorot_limit(in_features, out_features), seed, kTensorStream);
    if (bias) fill_value(bias, out_features, 0.0f);
  } else {
    // PyTorch: kaiming_uniform(a = sqrt(5)) on the weight reduces to 1/sqrt(in).
    const float limit = float(1.0 / std::sqrt(double(in_features)));
    fill_uniform(weight, count, limit, seed, kTensorStream);
    if (bias) fill_uniform(bias, out_features, limit, seed, kTensorStream + 1);
  }
}

void init_embedding(int64_t vocab_size, int64_t dim, InitScheme scheme, uint64_t seed, float* table,
                    int32_t padding_id) {
  require(vocab_size > 0, "init_embedding", "vocab_size must be > 0, got " + std::to_string(vocab_size));
  require(dim > 0, "init_embedding", "dim must be > 0, got " + std::to_string(dim));
  require(padding_id < vocab_size, "init_embedding",
          "padding_id " + std::to_string(padding_id) + " must be < vocab_size " + std::to_string(vocab_size));
  if (scheme == InitScheme::keras)
    fill_uniform(table, vocab_size * dim, 0.05f, seed, kTensorStream);
  else
    fill_normal(table, vocab_size * dim, seed, kTensorStream);
  if (padding_id >= 0) fill_value(table + int64_t(padding_id) * dim, dim, 0.0f);
}

}  // namespace rnnlab::layers
