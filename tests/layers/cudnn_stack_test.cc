// cuDNN backend specifics: the error without a device (runs everywhere, for both faces:
// make_recurrent_stack("cudnn") on host pointers, make_cudnn_device_stack on device
// pointers), the peephole refusal, and per-sequence lengths (GPU, through the device
// face): a padded batch gives every sequence exactly what it gets alone, zero output and no
// gradient at padded steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "layers/cuda/device.h"
#include "layers/device_stack.h"
#include "layers/random.h"
#include "layers/recurrent.h"

namespace rnnlab::layers {
namespace {

bool cudnn_built() {
  const auto built = recurrent_backends();
  return std::find(built.begin(), built.end(), "cudnn") != built.end();
}

RecurrentOptions small_options(Cell cell) {
  RecurrentOptions options;
  options.cell = cell;
  options.input_size = 4;
  options.hidden_size = 5;
  return options;
}

TEST(CudaDevice, QueryNeverThrows) {
  const int count = cuda::cuda_device_count();
  EXPECT_GE(count, 0);
  EXPECT_EQ(cuda::cuda_device_available(), count > 0);
  if (count == 0) EXPECT_FALSE(cuda::cuda_unavailable_reason().empty());
  else EXPECT_TRUE(cuda::cuda_unavailable_reason().empty());
}

TEST(CudnnBackend, NoDeviceErrorNamesTheBackend) {
  if (!cudnn_built()) GTEST_SKIP() << "no CUDA device: cudnn backend not built";
  if (cuda::cuda_device_available()) GTEST_SKIP() << "a CUDA device is present: the no-device error cannot happen";
  try {
    make_recurrent_stack("cudnn", small_options(Cell::lstm));
    FAIL() << "make_recurrent_stack(\"cudnn\") without a device did not throw";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind("cudnn: no CUDA device (", 0), 0u) << message;
    EXPECT_NE(message.find(cuda::cuda_unavailable_reason()), std::string::npos) << message;
  }
  try {
    make_cudnn_device_stack(small_options(Cell::lstm));
    FAIL() << "make_cudnn_device_stack without a device did not throw";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()).rfind("cudnn: no CUDA device (", 0), 0u) << error.what();
  }
  // The device helpers fail the same way instead of crashing.
  EXPECT_THROW(cuda::device_context(), std::runtime_error);
  EXPECT_THROW(cuda::DeviceBuffer<float>(16), std::runtime_error);
}

TEST(CudnnBackend, PeepholeIsRefusedByName) {
  if (!cudnn_built()) GTEST_SKIP() << "no CUDA device: cudnn backend not built";
  RecurrentOptions options = small_options(Cell::lstm);
  options.peephole = true;
  try {
    make_recurrent_stack("cudnn", options);
    FAIL() << "peephole LSTM on cudnn did not throw";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("peephole"), std::string::npos) << error.what();
  }
  EXPECT_THROW(make_cudnn_device_stack(options), std::invalid_argument) << "the device face refuses it too";
}

#ifdef RNNLAB_WITH_CUDA

std::vector<float> random_vector(size_t count, uint64_t stream, float scale) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = scale * float(random_normal(7, stream, i));
  return values;
}

// What one stack returns for one batch (host copies of the device results).
struct Result {
  std::vector<float> dst, hT, cT, diff_src, diff_h0, diff_c0, diff_params;
};

// Runs a training forward and backward on the device API with optional lengths.
Result run_device(const RecurrentOptions& options, int seq_len, int batch, const std::vector<float>& params,
                  const std::vector<float>& src, const std::vector<float>& h0, const std::vector<float>& c0,
                  const std::vector<float>& diff_dst, const std::vector<float>& diff_hT,
                  const std::vector<float>& diff_cT, const int* lengths) {
  using cuda::DeviceBuffer;
  const bool lstm = options.cell == Cell::lstm;
  const auto stack = make_cudnn_device_stack(options);
  DeviceBuffer<float> d_params, d_src, d_h0, d_c0, d_diff_dst, d_diff_hT, d_diff_cT;
  d_params.upload(params.data(), params.size());
  d_src.upload(src.data(), src.size());
  d_h0.upload(h0.data(), h0.size());
  d_c0.upload(c0.data(), c0.size());
  d_diff_dst.upload(diff_dst.data(), diff_dst.size());
  d_diff_hT.upload(diff_hT.data(), diff_hT.size());
  d_diff_cT.upload(diff_cT.data(), diff_cT.size());
  DeviceBuffer<float> dst(diff_dst.size()), hT(h0.size()), cT(c0.size()), diff_src(src.size()), diff_h0(h0.size()),
      diff_c0(c0.size()), diff_params(params.size());
  diff_params.zero();
  RecurrentForwardArgs fwd;
  fwd.seq_len = seq_len;
  fwd.batch = batch;
  fwd.params = d_params.data();
  fwd.src = d_src.data();
  fwd.h0 = d_h0.data();
  fwd.c0 = lstm ? d_c0.data() : nullptr;
  fwd.dst = dst.data();
  fwd.hT = hT.data();
  fwd.cT = lstm ? cT.data() : nullptr;
  fwd.lengths = lengths;  // a HOST array on every device
  stack->forward(fwd, true);
  RecurrentBackwardArgs bwd;
  bwd.diff_dst = d_diff_dst.data();
  bwd.diff_hT = d_diff_hT.data();
  bwd.diff_cT = lstm ? d_diff_cT.data() : nullptr;
  bwd.diff_src = diff_src.data();
  bwd.diff_h0 = diff_h0.data();
  bwd.diff_c0 = lstm ? diff_c0.data() : nullptr;
  bwd.diff_params = diff_params.data();
  stack->backward(bwd);
  Result result;
  auto fetch = [](const DeviceBuffer<float>& buffer, std::vector<float>& host) {
    host.resize(buffer.size());
    buffer.download(host.data());
  };
  fetch(dst, result.dst);
  fetch(hT, result.hT);
  fetch(diff_src, result.diff_src);
  fetch(diff_h0, result.diff_h0);
  fetch(diff_params, result.diff_params);
  if (lstm) {
    fetch(cT, result.cT);
    fetch(diff_c0, result.diff_c0);
  }
  return result;
}

// Rows [t, n, :] of a [T, N, C] tensor for one n, the first `steps` steps.
std::vector<float> column(const std::vector<float>& data, int seq_len, int batch, int channels, int n, int steps) {
  std::vector<float> out;
  for (int t = 0; t < std::min(seq_len, steps); ++t)
    out.insert(out.end(), data.begin() + (int64_t(t) * batch + n) * channels,
               data.begin() + (int64_t(t) * batch + n + 1) * channels);
  return out;
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1e-3, diff = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::fabs(double(want[i])));
  }
  EXPECT_LE(diff / scale, 1e-4) << what;
}

TEST(CudnnBackend, PaddedBatchEqualsEachSequenceAlone) {
  if (!cuda::cuda_device_available()) GTEST_SKIP() << "no CUDA device: " << cuda::cuda_unavailable_reason();
  const int seq_len = 6, batch = 3;
  const std::vector<int> lengths = {6, 2, 4};
  for (Cell cell : {Cell::rnn_tanh, Cell::rnn_relu, Cell::lstm, Cell::gru})
    for (Direction direction : {Direction::forward, Direction::reverse, Direction::bidirectional_concat,
                                Direction::bidirectional_sum})
      for (int layers : {1, 2}) {
        RecurrentOptions options = small_options(cell);
        options.direction = direction;
        options.num_layers = layers;
        SCOPED_TRACE(std::string(to_string(cell)) + "_" + std::string(to_string(direction)) + "_L" +
                     std::to_string(layers));
        const int S = options.state_size(), H = options.hidden_size, O = options.output_size();
        const int D = direction_count(direction), I = options.input_size;
        const int slots = layers * D;
        const auto params = random_vector(size_t(recurrent_parameter_count(options)), 1, 0.4f);
        const auto src = random_vector(size_t(seq_len * batch * I), 2, 1.0f);
        const auto h0 = random_vector(size_t(slots * batch * S), 3, 0.5f);
        const auto c0 = random_vector(size_t(slots * batch * H), 4, 0.5f);
        auto diff_dst = random_vector(size_t(seq_len * batch * O), 5, 1.0f);
        const auto diff_hT = random_vector(h0.size(), 6, 1.0f);
        const auto diff_cT = random_vector(c0.size(), 7, 1.0f);
        const Result padded =
            run_device(options, seq_len, batch, params, src, h0, c0, diff_dst, diff_hT, diff_cT, lengths.data());

        std::vector<float> summed_grads(params.size(), 0.0f);
        for (int n = 0; n < batch; ++n) {
          const int steps = lengths[size_t(n)];
          auto states = [&](const std::vector<float>& all, int channels) {  // slot-major [slots, N, C] -> n
            std::vector<float> out;
            for (int s = 0; s < slots; ++s)
              out.insert(out.end(), all.begin() + (int64_t(s) * batch + n) * channels,
                         all.begin() + (int64_t(s) * batch + n + 1) * channels);
            return out;
          };
          const Result alone = run_device(options, steps, 1, params, column(src, seq_len, batch, I, n, steps),
                                          states(h0, S), states(c0, H), column(diff_dst, seq_len, batch, O, n, steps),
                                          states(diff_hT, S), states(diff_cT, H), nullptr);
          const std::string who = "sequence " + std::to_string(n);
          expect_near_all(column(padded.dst, seq_len, batch, O, n, steps), alone.dst, who + " dst");
          expect_near_all(states(padded.hT, S), alone.hT, who + " hT");
          expect_near_all(column(padded.diff_src, seq_len, batch, I, n, steps), alone.diff_src, who + " diff_src");
          expect_near_all(states(padded.diff_h0, S), alone.diff_h0, who + " diff_h0");
          if (cell == Cell::lstm) {
            expect_near_all(states(padded.cT, H), alone.cT, who + " cT");
            expect_near_all(states(padded.diff_c0, H), alone.diff_c0, who + " diff_c0");
          }
          for (size_t i = 0; i < summed_grads.size(); ++i) summed_grads[i] += alone.diff_params[i];
          // Padded steps: zero output, zero input gradient.
          for (int t = steps; t < seq_len; ++t) {
            for (int c = 0; c < O; ++c) EXPECT_EQ(padded.dst[(size_t(t) * batch + n) * O + c], 0.0f) << who;
            for (int c = 0; c < I; ++c) EXPECT_EQ(padded.diff_src[(size_t(t) * batch + n) * I + c], 0.0f) << who;
          }
        }
        expect_near_all(padded.diff_params, summed_grads, "diff_params = sum over sequences");
      }
}

#endif  // RNNLAB_WITH_CUDA

}  // namespace
}  // namespace rnnlab::layers
