// The two RecurrentStack faces of a CudnnStack:
//   make_cudnn_stack (layers/cudnn/cudnn_stack.h): HOST pointers. Each call uploads what it
//     reads, runs, downloads what it writes and waits for the stream, so the
//     backend-equivalence tests drive cuDNN like any CPU backend. Not for training speed.
//   make_cudnn_device_stack (layers/device_stack.h): DEVICE pointers, passed through as
//     they are (lengths from the host args); what a model on Device::cuda runs.
#include <memory>
#include <stdexcept>

#include "layers/cuda/device.h"
#include "layers/cudnn/cudnn_stack.h"

namespace rnnlab::layers {
namespace {

using cuda::DeviceBuffer;

class CudnnHostStack final : public RecurrentStack {
 public:
  CudnnHostStack(const RecurrentOptions& options, const CudnnTuning& tuning) : stack_(options, tuning) {}

  const RecurrentOptions& options() const override { return stack_.options(); }
  std::string_view backend() const override { return "cudnn"; }

  void forward(const RecurrentForwardArgs& args, bool training) override {
    const RecurrentOptions& opt = stack_.options();
    const bool lstm = opt.cell == Cell::lstm;
    const size_t tokens = size_t(args.seq_len) * size_t(args.batch);
    const size_t slots = size_t(opt.num_layers) * size_t(direction_count(opt.direction)) * size_t(args.batch);
    if (args.params == nullptr || args.src == nullptr || args.dst == nullptr || args.seq_len <= 0 || args.batch <= 0)
      throw std::invalid_argument("cudnn forward: params, src, dst and positive seq_len, batch are required");
    params_.upload(args.params, size_t(recurrent_parameter_count(opt)));
    src_.upload(args.src, tokens * size_t(opt.input_size));
    if (args.h0 != nullptr) h0_.upload(args.h0, slots * size_t(opt.state_size()));
    if (lstm && args.c0 != nullptr) c0_.upload(args.c0, slots * size_t(opt.hidden_size));
    dst_.resize(tokens * size_t(opt.output_size()));
    hT_.resize(slots * size_t(opt.state_size()));
    cT_.resize(lstm ? slots * size_t(opt.hidden_size) : 0);

    RecurrentForwardArgs device = args;
    device.params = params_.data();
    device.src = src_.data();
    device.h0 = args.h0 != nullptr ? h0_.data() : nullptr;
    device.c0 = lstm && args.c0 != nullptr ? c0_.data() : nullptr;
    device.dst = dst_.data();
    device.hT = args.hT != nullptr ? hT_.data() : nullptr;
    device.cT = lstm && args.cT != nullptr ? cT_.data() : nullptr;
    stack_.forward(device, training, args.lengths);  // host lengths (cudnn_stack.h)

    dst_.download(args.dst);
    if (args.hT != nullptr) hT_.download(args.hT);
    if (device.cT != nullptr) cT_.download(args.cT);
    if (training) {
      seq_len_ = args.seq_len;
      batch_ = args.batch;
    }
  }

  void backward(const RecurrentBackwardArgs& args) override {
    const RecurrentOptions& opt = stack_.options();
    const bool lstm = opt.cell == Cell::lstm;
    if (seq_len_ == 0) throw std::logic_error("cudnn backward: no training forward to differentiate");
    if (args.diff_dst == nullptr || args.diff_params == nullptr)
      throw std::invalid_argument("cudnn backward: diff_dst and diff_params are required");
    const size_t tokens = size_t(seq_len_) * size_t(batch_);
    const size_t slots = size_t(opt.num_layers) * size_t(direction_count(opt.direction)) * size_t(batch_);
    const size_t h_count = slots * size_t(opt.state_size()), c_count = slots * size_t(opt.hidden_size);
    diff_dst_.upload(args.diff_dst, tokens * size_t(opt.output_size()));
    if (args.diff_hT != nullptr) diff_hT_.upload(args.diff_hT, h_count);
    if (lstm && args.diff_cT != nullptr) diff_cT_.upload(args.diff_cT, c_count);
    // Gradients are ADDED: start from the caller's values.
    diff_params_.upload(args.diff_params, size_t(recurrent_parameter_count(opt)));
    diff_src_.resize(args.diff_src != nullptr ? tokens * size_t(opt.input_size) : 0);
    diff_h0_.resize(args.diff_h0 != nullptr ? h_count : 0);
    diff_c0_.resize(lstm && args.diff_c0 != nullptr ? c_count : 0);

    RecurrentBackwardArgs device;
    device.diff_dst = diff_dst_.data();
    device.diff_hT = args.diff_hT != nullptr ? diff_hT_.data() : nullptr;
    device.diff_cT = lstm && args.diff_cT != nullptr ? diff_cT_.data() : nullptr;
    device.diff_src = args.diff_src != nullptr ? diff_src_.data() : nullptr;
    device.diff_h0 = args.diff_h0 != nullptr ? diff_h0_.data() : nullptr;
    device.diff_c0 = lstm && args.diff_c0 != nullptr ? diff_c0_.data() : nullptr;
    device.diff_params = diff_params_.data();
    stack_.backward(device);

    diff_params_.download(args.diff_params);
    if (device.diff_src != nullptr) diff_src_.download(args.diff_src);
    if (device.diff_h0 != nullptr) diff_h0_.download(args.diff_h0);
    if (device.diff_c0 != nullptr) diff_c0_.download(args.diff_c0);
  }

 private:
  CudnnStack stack_;
  int seq_len_ = 0, batch_ = 0;
  DeviceBuffer<float> params_, src_, h0_, c0_, dst_, hT_, cT_;
  DeviceBuffer<float> diff_dst_, diff_hT_, diff_cT_, diff_params_, diff_src_, diff_h0_, diff_c0_;
};

class CudnnDeviceStack final : public RecurrentStack {
 public:
  CudnnDeviceStack(const RecurrentOptions& options, const CudnnTuning& tuning) : stack_(options, tuning) {}

  const RecurrentOptions& options() const override { return stack_.options(); }
  std::string_view backend() const override { return "cudnn"; }
  Device device() const override { return Device::cuda; }
  void forward(const RecurrentForwardArgs& args, bool training) override {
    stack_.forward(args, training, args.lengths);  // host lengths (cudnn_stack.h)
  }
  void backward(const RecurrentBackwardArgs& args) override { stack_.backward(args); }

 private:
  CudnnStack stack_;
};

}  // namespace

std::unique_ptr<RecurrentStack> make_cudnn_device_stack(const RecurrentOptions& options, const CudnnTuning& tuning) {
  return std::make_unique<CudnnDeviceStack>(options, tuning);
}

std::unique_ptr<RecurrentStack> make_cudnn_stack(const RecurrentOptions& options, const CudnnTuning& tuning) {
  return std::make_unique<CudnnHostStack>(options, tuning);
}

}  // namespace rnnlab::layers
