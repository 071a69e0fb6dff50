#include "layers/reference/reference_stack.h"

#include <stdexcept>

#include "layers/reference/reference_rnn.h"

namespace rnnlab::layers {
namespace {

// The float RecurrentStack face of ReferenceRecurrent<float>: the argument structs have
// the same fields, so this only renames them.
class ReferenceStack final : public RecurrentStack {
 public:
  explicit ReferenceStack(const RecurrentOptions& options) : impl_(options) {}

  const RecurrentOptions& options() const override { return impl_.options(); }
  std::string_view backend() const override { return "reference"; }

  void forward(const RecurrentForwardArgs& args, bool training) override {
    if (args.lengths)
      throw std::invalid_argument("reference forward: per-sequence lengths need make_recurrent_stack (padded_stack.h)");
    ReferenceForwardArgs<float> ref;
    ref.seq_len = args.seq_len;
    ref.batch = args.batch;
    ref.params = args.params;
    ref.src = args.src;
    ref.h0 = args.h0;
    ref.c0 = args.c0;
    ref.dst = args.dst;
    ref.hT = args.hT;
    ref.cT = args.cT;
    ref.dropout_seed = args.dropout_seed;
    impl_.forward(ref, training);
  }

  void backward(const RecurrentBackwardArgs& args) override {
    ReferenceBackwardArgs<float> ref;
    ref.diff_dst = args.diff_dst;
    ref.diff_hT = args.diff_hT;
    ref.diff_cT = args.diff_cT;
    ref.diff_src = args.diff_src;
    ref.diff_h0 = args.diff_h0;
    ref.diff_c0 = args.diff_c0;
    ref.diff_params = args.diff_params;
    impl_.backward(ref);  // throws std::logic_error without a training forward
  }

 private:
  ReferenceRecurrent<float> impl_;
};

}  // namespace

std::unique_ptr<RecurrentStack> make_reference_stack(const RecurrentOptions& options) {
  return std::make_unique<ReferenceStack>(options);
}

}  // namespace rnnlab::layers
