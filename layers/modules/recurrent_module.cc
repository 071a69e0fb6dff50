#include "layers/modules/recurrent_module.h"

#include <cctype>
#include <stdexcept>
#include <utility>

namespace rnnlab::layers {
namespace {

// "weight_ih_l1_reverse" -> "l1"
std::string layer_of(const std::string& name) {
  const auto at = name.find("_l");
  size_t end = at + 2;
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
  return "l" + name.substr(at + 2, end - at - 2);
}

}  // namespace

Recurrent::Recurrent(ParameterSet& parameters, std::string name, std::unique_ptr<RecurrentStack> stack)
    : Module(parameters, std::move(name)),
      stack_(std::move(stack)),
      dst_(device()),
      h_final_(device()),
      c_final_(device()),
      zero_diff_dst_(device()),
      diff_src_(device()) {
  if (stack_->device() != device())
    throw std::invalid_argument(name_ + ": the " + std::string(stack_->backend()) + " stack computes on " +
                                std::string(to_string(stack_->device())) + ", the parameters are on " +
                                std::string(to_string(device())));
  offset_ = parameters.count();
  for (const auto& info : recurrent_parameters(options())) {
    const int64_t offset = add(info.name, info.shape, name_ + "." + layer_of(info.name));
    if (offset != offset_ + info.offset) throw std::logic_error(name_ + ": segment '" + info.name + "' out of order");
  }
}

void Recurrent::initialize(InitScheme scheme, uint64_t seed) {
  init_recurrent(options(), scheme, seed, parameters_.host_params() + offset_);
}

void Recurrent::forward(const Input& input, bool training, uint64_t dropout_seed) {
  const RecurrentOptions& rnn = options();
  seq_len_ = input.seq_len;
  batch_ = input.batch;
  const int64_t steps = int64_t(seq_len_) * batch_;
  const int64_t states = int64_t(rnn.num_layers) * direction_count(rnn.direction) * batch_;
  const bool final_c = rnn.cell == Cell::lstm && input.want_final_c;
  dst_.resize(size_t(steps * rnn.output_size()));
  h_final_.resize(size_t(states * rnn.state_size()));
  c_final_.resize(final_c ? size_t(states * rnn.hidden_size) : 0);
  RecurrentForwardArgs args;
  args.seq_len = seq_len_;
  args.batch = batch_;
  args.params = parameters_.param(offset_);
  args.src = input.src;
  args.h0 = input.h0;
  args.c0 = rnn.cell == Cell::lstm ? input.c0 : nullptr;
  args.dst = dst_.data();
  args.hT = h_final_.data();
  args.cT = final_c ? c_final_.data() : nullptr;
  args.dropout_seed = dropout_seed;
  args.lengths = input.lengths;
  stack_->forward(args, training);
}

const Buffer<float>& Recurrent::backward(const float* diff_dst, const float* diff_h_final, bool diff_src) {
  const RecurrentOptions& rnn = options();
  const int64_t steps = int64_t(seq_len_) * batch_;
  RecurrentBackwardArgs args;
  if (!diff_dst) {
    zero_diff_dst_.resize(size_t(steps * rnn.output_size()));
    zero_diff_dst_.zero();
    diff_dst = zero_diff_dst_.data();
  }
  args.diff_dst = diff_dst;
  args.diff_hT = diff_h_final;
  diff_src_.resize(diff_src ? size_t(steps * rnn.input_size) : 0);
  args.diff_src = diff_src ? diff_src_.data() : nullptr;
  args.diff_params = parameters_.grad(offset_);
  stack_->backward(args);
  return diff_src_;
}

}  // namespace rnnlab::layers
