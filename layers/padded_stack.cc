// make_padded_stack (padded_stack.h): per-sequence lengths over one-layer, one-direction
// stacks of any backend.
#include "layers/padded_stack.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "layers/dropout.h"

namespace rnnlab::layers {

void check_lengths(const StepLengths& steps) {
  for (int n = 0; n < steps.batch; ++n) {
    const int32_t length = steps.lengths[n];
    if (length < 1 || length > steps.seq_len)
      throw std::invalid_argument("recurrent forward: lengths[" + std::to_string(n) + "] = " + std::to_string(length) +
                                  " is outside [1, seq_len = " + std::to_string(steps.seq_len) + "]");
  }
}

void move_steps(const StepLengths& steps, const float* from, StepSlice from_slice, float* to, StepSlice to_slice,
                int channels, bool reverse, bool accumulate) {
  const int64_t N = steps.batch;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t length = steps.lengths[n];
    for (int64_t t = 0; t < length; ++t) {
      const int64_t source = reverse ? length - 1 - t : t;
      const float* in = from + (source * N + n) * from_slice.channels + from_slice.offset;
      float* out = to + (t * N + n) * to_slice.channels + to_slice.offset;
      if (accumulate) {
        for (int c = 0; c < channels; ++c) out[c] += in[c];
      } else {
        std::copy_n(in, channels, out);
      }
    }
  }
}

void zero_padded_steps(const StepLengths& steps, float* data, int channels) {
  const int64_t N = steps.batch;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = steps.lengths[n]; t < steps.seq_len; ++t) std::fill_n(data + (t * N + n) * channels, channels, 0.0f);
}

void gather_last_steps(const StepLengths& steps, const float* data, int channels, float* state) {
  const int64_t N = steps.batch;
  for (int64_t n = 0; n < N; ++n)
    std::copy_n(data + ((steps.lengths[n] - 1) * N + n) * channels, channels, state + n * channels);
}

void scatter_add_last_steps(const StepLengths& steps, const float* state, int channels, float* data) {
  const int64_t N = steps.batch;
  for (int64_t n = 0; n < N; ++n) {
    float* at = data + ((steps.lengths[n] - 1) * N + n) * channels;
    for (int c = 0; c < channels; ++c) at[c] += state[n * channels + c];
  }
}

namespace {

using Buffer = std::vector<float>;

// One call with lengths: its shapes and lengths, and the buffers between the one-layer
// stacks (kept until the next call of the same kind: a stack may read its input again in
// backward).
struct PaddedPass {
  int seq_len = 0, batch = 0;
  std::vector<int32_t> lengths;
  std::vector<Buffer> layer_in;  // [k], k >= 1: input of layer k (layer k-1's output after dropout)
  std::vector<Buffer> mask;      // [k]: dropout mask on layer k's output
  std::vector<Buffer> reversed;  // [k]: layer k's input reversed within each length
  std::vector<Buffer> part_out;  // [slot]: dst of one (layer, direction) stack, in its own time order
  StepLengths steps() const { return {seq_len, batch, lengths.data()}; }
};

class PaddedStack final : public RecurrentStack {
 public:
  PaddedStack(const RecurrentOptions& options, StackFactory make)
      : options_(options), make_(std::move(make)), whole_(make_(options)) {}

  const RecurrentOptions& options() const override { return options_; }
  std::string_view backend() const override { return whole_->backend(); }

  void forward(const RecurrentForwardArgs& args, bool training) override {
    if (!args.lengths) {
      whole_->forward(args, training);
      if (training) padded_last_ = false;
      return;
    }
    if (training) padded_last_ = false;  // a failed forward leaves nothing to differentiate
    forward_padded(args, training);
    if (training) padded_last_ = true;
  }

  void backward(const RecurrentBackwardArgs& args) override {
    if (!padded_last_) return whole_->backward(args);  // the backend's own checks and errors
    if (!args.diff_dst || !args.diff_params)
      throw std::invalid_argument(prefix() + " backward: diff_dst and diff_params are required");
    if (args.diff_cT)
      throw std::invalid_argument(prefix() + " backward: diff_cT is not available with per-sequence lengths");
    backward_padded(args);
  }

 private:
  std::string prefix() const { return std::string(backend()); }
  bool reversed(int direction) const { return direction == 1 || options_.direction == Direction::reverse; }
  int column(int direction) const {
    return options_.direction == Direction::bidirectional_concat ? direction * options_.state_size() : 0;
  }

  void build_parts() {
    const std::vector<ParamInfo> params = recurrent_parameters(options_);
    for (int layer = 0; layer < options_.num_layers; ++layer)
      for (int dir = 0; dir < direction_count(options_.direction); ++dir) {
        RecurrentOptions one = options_;
        one.input_size = options_.layer_input_size(layer);
        one.num_layers = 1;
        one.direction = Direction::forward;
        one.dropout = 0.0f;
        // The canonical layout keeps each (layer, direction) together, in the order of a
        // one-layer stack (recurrent.h): its parameters are one slice.
        const std::string first = "weight_ih_l" + std::to_string(layer) + (dir == 1 ? "_reverse" : "");
        const auto at = std::find_if(params.begin(), params.end(), [&](const ParamInfo& p) { return p.name == first; });
        offsets_.push_back(at->offset);
        parts_.push_back(make_(one));
      }
  }

  void forward_padded(const RecurrentForwardArgs& args, bool training);
  void backward_padded(const RecurrentBackwardArgs& args);

  RecurrentOptions options_;
  StackFactory make_;
  std::unique_ptr<RecurrentStack> whole_;                // batches without lengths
  std::vector<std::unique_ptr<RecurrentStack>> parts_;  // [layer * D + direction], made on first use
  std::vector<int64_t> offsets_;                         // their parameter slices
  PaddedPass train_, infer_;
  bool padded_last_ = false;  // the last training forward had lengths
  Buffer diff_out_, diff_in_, part_diff_, part_dx_;
};

void PaddedStack::forward_padded(const RecurrentForwardArgs& args, bool training) {
  if (args.seq_len <= 0 || args.batch <= 0 || !args.params || !args.src || !args.dst)
    throw std::invalid_argument(prefix() + " forward: params, src, dst and positive seq_len, batch are required");
  if ((args.c0 || args.cT) && options_.cell != Cell::lstm)
    throw std::invalid_argument(prefix() + " forward: c0/cT are for cell lstm only");
  if (args.cT)
    throw std::invalid_argument(prefix() + " forward: cT is not available with per-sequence lengths (pass nullptr)");
  check_lengths({args.seq_len, args.batch, args.lengths});
  if (parts_.empty()) build_parts();
  PaddedPass& pass = training ? train_ : infer_;
  pass.seq_len = args.seq_len;
  pass.batch = args.batch;
  pass.lengths.assign(args.lengths, args.lengths + args.batch);
  const StepLengths steps = pass.steps();
  const int L = options_.num_layers, D = direction_count(options_.direction);
  const int S = options_.state_size(), H = options_.hidden_size, O = options_.output_size();
  const int64_t N = args.batch, tokens = int64_t(args.seq_len) * N;
  pass.layer_in.resize(size_t(L));
  pass.mask.resize(size_t(L));
  pass.reversed.resize(size_t(L));
  pass.part_out.resize(size_t(L * D));

  const float* x = args.src;
  for (int layer = 0; layer < L; ++layer) {
    const int I = options_.layer_input_size(layer);
    const bool last = layer + 1 == L;
    Buffer& next = pass.layer_in[size_t(last ? 0 : layer + 1)];
    if (!last) next.resize(size_t(tokens * O));
    float* out = last ? args.dst : next.data();
    std::fill_n(out, tokens * O, 0.0f);
    for (int dir = 0; dir < D; ++dir) {
      const int slot = layer * D + dir;
      const float* in = x;
      if (reversed(dir)) {
        Buffer& r = pass.reversed[size_t(layer)];
        r.assign(size_t(tokens * I), 0.0f);
        move_steps(steps, x, {I, 0}, r.data(), {I, 0}, I, true, false);
        in = r.data();
      }
      Buffer& y = pass.part_out[size_t(slot)];
      y.resize(size_t(tokens * S));
      RecurrentForwardArgs part;
      part.seq_len = args.seq_len;
      part.batch = args.batch;
      part.params = args.params + offsets_[size_t(slot)];
      part.src = in;
      part.h0 = args.h0 ? args.h0 + slot * N * S : nullptr;
      part.c0 = args.c0 ? args.c0 + slot * N * H : nullptr;
      part.dst = y.data();
      parts_[size_t(slot)]->forward(part, training);
      // Its step len-1 is the sequence's last (forward) or first (reverse) time step.
      if (args.hT) gather_last_steps(steps, y.data(), S, args.hT + slot * N * S);
      move_steps(steps, y.data(), {S, 0}, out, {O, column(dir)}, S, reversed(dir),
                 options_.direction == Direction::bidirectional_sum);
    }
    if (!last) {
      if (training && options_.dropout > 0.0f) {
        pass.mask[size_t(layer)].resize(size_t(tokens * O));
        dropout_forward(out, out, pass.mask[size_t(layer)].data(), tokens * O, options_.dropout, args.dropout_seed,
                        kRecurrentDropoutStream + uint64_t(layer));
      }
      x = out;
    }
  }
}

void PaddedStack::backward_padded(const RecurrentBackwardArgs& args) {
  const PaddedPass& pass = train_;
  const StepLengths steps = pass.steps();
  const int L = options_.num_layers, D = direction_count(options_.direction);
  const int S = options_.state_size(), H = options_.hidden_size, O = options_.output_size();
  const int64_t N = pass.batch, tokens = int64_t(pass.seq_len) * N;
  // The output is constant 0 at padded steps: no gradient flows from there.
  diff_out_.assign(args.diff_dst, args.diff_dst + tokens * O);
  zero_padded_steps(steps, diff_out_.data(), O);
  for (int layer = L - 1; layer >= 0; --layer) {
    const int I = options_.layer_input_size(layer);
    float* dx = layer == 0 ? args.diff_src : nullptr;
    if (layer > 0) diff_in_.resize(size_t(tokens * I)), dx = diff_in_.data();
    if (dx) std::fill_n(dx, tokens * I, 0.0f);
    for (int dir = 0; dir < D; ++dir) {
      const int slot = layer * D + dir;
      part_diff_.assign(size_t(tokens * S), 0.0f);
      move_steps(steps, diff_out_.data(), {O, column(dir)}, part_diff_.data(), {S, 0}, S, reversed(dir), false);
      if (args.diff_hT) scatter_add_last_steps(steps, args.diff_hT + slot * N * S, S, part_diff_.data());
      if (dx) part_dx_.resize(size_t(tokens * I));
      RecurrentBackwardArgs part;
      part.diff_dst = part_diff_.data();
      part.diff_src = dx ? part_dx_.data() : nullptr;
      part.diff_h0 = args.diff_h0 ? args.diff_h0 + slot * N * S : nullptr;
      part.diff_c0 = args.diff_c0 ? args.diff_c0 + slot * N * H : nullptr;
      part.diff_params = args.diff_params + offsets_[size_t(slot)];
      parts_[size_t(slot)]->backward(part);
      if (dx) move_steps(steps, part_dx_.data(), {I, 0}, dx, {I, 0}, I, reversed(dir), true);
    }
    if (layer > 0) {
      // Through the dropout after layer-1: d out = d in * mask.
      if (options_.dropout > 0.0f) {
        const float* mask = pass.mask[size_t(layer - 1)].data();
        for (int64_t i = 0; i < tokens * O; ++i) diff_in_[size_t(i)] *= mask[i];
      }
      std::swap(diff_out_, diff_in_);
    }
  }
}

}  // namespace

std::unique_ptr<RecurrentStack> make_padded_stack(const RecurrentOptions& options, StackFactory make) {
  return std::make_unique<PaddedStack>(options, std::move(make));
}

}  // namespace rnnlab::layers
