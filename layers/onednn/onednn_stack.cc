// The oneDNN stack: layer groups (one primitive each), per-shape plans, and the data flow
// between groups (inter-layer dropout, states, gradients).
#include "layers/onednn/onednn_stack.h"

#include <dnnl.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "layers/dropout.h"
#include "layers/onednn/primitives.h"
#include "layers/onednn/weights.h"

// oneDNN's C++ API throws dnnl::error; the backend's public methods turn it into the
// project's runtime error here, at the boundary.
#define RNNLAB_ONEDNN(...)                                                                              \
  try {                                                                                                 \
    __VA_ARGS__;                                                                                        \
  } catch (const dnnl::error& error) {                                                                  \
    throw std::runtime_error(std::string("oneDNN: ") + error.what() + " (status " +                    \
                             std::to_string(int(error.status)) + ")");                                  \
  }

namespace rnnlab::layers {
namespace {

using dnnl::memory;

// Layers run by one primitive, with the plain (canonical-order, oneDNN-layout) copy of
// their weights that every forward refreshes and backward reuses, and the plain gradients.
struct Group {
  int first_layer;
  int layer_count;
  int input_size;
  onednn::WeightMap map;
  std::vector<float> plain, diff_plain;
  onednn::PlainWeights plain_ptrs, diff_ptrs;

  Group(const RecurrentOptions& options, int first, int count)
      : first_layer(first), layer_count(count), input_size(options.layer_input_size(first)), map(options, first, count) {
    const int64_t sizes[] = {map.weights_layer_size(), map.weights_iter_size(), map.bias_size(), map.peephole_size(),
                             map.projection_size()};
    int64_t total = 0;
    for (int64_t size : sizes) total += size;
    plain.assign(size_t(total), 0.0f);
    diff_plain.assign(size_t(total), 0.0f);
    auto carve = [&](std::vector<float>& buffer, onednn::PlainWeights& ptrs) {
      float* at = buffer.data();
      float** slots[] = {&ptrs.weights_layer, &ptrs.weights_iter, &ptrs.bias, &ptrs.peephole, &ptrs.projection};
      for (int i = 0; i < 5; ++i) {
        *slots[i] = sizes[i] > 0 ? at : nullptr;
        at += sizes[i];
      }
    };
    carve(plain, plain_ptrs);
    carve(diff_plain, diff_ptrs);
  }
};

struct Reorder {
  dnnl::reorder primitive;
  memory from, to;
};

// Everything one group needs for one (seq_len, batch, training): primitives, memories over
// the plan's buffers, weight reorders, and the argument maps (built once, executed often).
struct GroupRun {
  onednn::GroupPrimitives prims;
  memory src_layer, dst_layer, diff_src_layer, diff_dst_layer;
  memory diff_weights_layer, diff_weights_iter, diff_bias, diff_peephole, diff_projection;
  std::vector<Reorder> fwd_reorders, bwd_reorders, diff_reorders;
  std::unordered_map<int, memory> fwd_args, bwd_args;
};

using Buffer = std::vector<float>;

struct Plan {
  int seq_len = 0, batch = 0;
  bool training = false;
  bool masked = false;  // training with dropout between groups (groups are then layers)
  std::vector<GroupRun> runs;
  Buffer src;                      // training: copy of args.src (backward reads it)
  std::vector<Buffer> out;         // out[g]: group g's dst_layer
  std::vector<Buffer> in;          // in[g], g >= 1, masked only: dropout(out[g - 1])
  std::vector<Buffer> mask;        // mask[g]: dropout mask applied to out[g]
  std::vector<Buffer> diff_in;     // diff_in[g], g >= 1: gradient w.r.t. group g's input
  Buffer diff_src0;                // group 0's diff_src when the caller wants none
  Buffer h0, c0, hT, cT, diff_h0, diff_c0, diff_hT, diff_cT;  // [L*D, N, S] / [L*D, N, H]
  // One scratchpad for every primitive of the plan (they run one at a time), page aligned.
  std::unique_ptr<void, void (*)(void*)> scratchpad{nullptr, std::free};
};

void copy_or_zero(const float* from, Buffer& to) {
  if (from) std::copy(from, from + to.size(), to.begin());
  else std::fill(to.begin(), to.end(), 0.0f);
}

void zero(const memory& m) {
  if (m) std::memset(m.get_data_handle(), 0, m.get_desc().get_size());
}

class OnednnStack final : public RecurrentStack {
 public:
  OnednnStack(const RecurrentOptions& options, const OnednnTuning& tuning)
      : options_(options), tuning_(tuning), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    validate(options_);
    const int layers = options_.num_layers;
    // One primitive runs several layers only when they share an input size and nothing
    // runs between them (dropout). Bidirectional stacks always go layer by layer: PyTorch
    // feeds each direction of layer k both directions of layer k-1, which oneDNN's
    // multi-layer weights_layer {L, D, I, G, H} (one I for all layers) cannot express
    // when I != 2*S; we did not test whether oneDNN's fused bidirectional stack matches
    // PyTorch even when I == 2*S, so we do not use it.
    const bool stackable = tuning_.fuse_layers && direction_count(options_.direction) == 1 && options_.dropout == 0.0f;
    if (stackable && layers > 1 && options_.input_size == options_.state_size()) {
      groups_.emplace_back(options_, 0, layers);
    } else if (stackable && layers > 2) {
      groups_.emplace_back(options_, 0, 1);
      groups_.emplace_back(options_, 1, layers - 1);
    } else {
      for (int layer = 0; layer < layers; ++layer) groups_.emplace_back(options_, layer, 1);
    }
  }

  const RecurrentOptions& options() const override { return options_; }
  std::string_view backend() const override { return "onednn"; }

  void forward(const RecurrentForwardArgs& args, bool training) override {
    check_forward(args);
    RNNLAB_ONEDNN(run_forward(args, training))
  }

  void backward(const RecurrentBackwardArgs& args) override {
    if (!last_training_) throw std::logic_error("onednn backward: no forward(training=true) to differentiate");
    if (!args.diff_dst) throw std::invalid_argument("onednn backward: diff_dst is required");
    if (!args.diff_params) throw std::invalid_argument("onednn backward: diff_params is required");
    if ((args.diff_cT || args.diff_c0) && options_.cell != Cell::lstm)
      throw std::invalid_argument("onednn backward: diff_cT/diff_c0 are for cell lstm only");
    RNNLAB_ONEDNN(run_backward(args))
  }

  int group_count() const { return int(groups_.size()); }

 private:
  void check_forward(const RecurrentForwardArgs& args) const {
    if (args.seq_len <= 0 || args.batch <= 0)
      throw std::invalid_argument("onednn forward: seq_len and batch must be > 0, got " +
                                  std::to_string(args.seq_len) + ", " + std::to_string(args.batch));
    if (!args.params || !args.src || !args.dst)
      throw std::invalid_argument("onednn forward: params, src and dst are required");
    if ((args.c0 || args.cT) && options_.cell != Cell::lstm)
      throw std::invalid_argument("onednn forward: c0/cT are for cell lstm only");
    if (args.lengths)
      throw std::invalid_argument("onednn forward: per-sequence lengths need make_recurrent_stack (padded_stack.h)");
  }

  int64_t state_offset(const Group& group, const Plan& plan, int64_t channels) const {
    return int64_t(group.first_layer) * direction_count(options_.direction) * plan.batch * channels;
  }

  memory converted(const memory::desc& wanted, const memory& plain, std::vector<Reorder>& reorders, bool from_plain) {
    if (!plain || wanted == plain.get_desc()) return plain;
    memory other(wanted, engine_);
    if (from_plain) reorders.push_back({dnnl::reorder(plain, other), plain, other});
    else reorders.push_back({dnnl::reorder(other, plain), other, plain});
    return other;
  }

  Plan& plan_for(int seq_len, int batch, bool training);
  void build_run(Plan& plan, size_t g);
  void run_forward(const RecurrentForwardArgs& args, bool training);
  void run_backward(const RecurrentBackwardArgs& args);

  RecurrentOptions options_;
  OnednnTuning tuning_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::vector<Group> groups_;
  std::map<std::tuple<int, int, bool>, std::unique_ptr<Plan>> plans_;
  Plan* last_training_ = nullptr;
};

Plan& OnednnStack::plan_for(int seq_len, int batch, bool training) {
  auto& slot = plans_[{seq_len, batch, training}];
  if (slot) return *slot;
  auto plan = std::make_unique<Plan>();
  plan->seq_len = seq_len;
  plan->batch = batch;
  plan->training = training;
  const size_t groups = groups_.size();
  plan->masked = training && options_.dropout > 0.0f && groups > 1;
  const int64_t tokens = int64_t(seq_len) * batch;
  const int64_t states = int64_t(options_.num_layers) * direction_count(options_.direction) * batch;
  plan->out.assign(groups, Buffer(size_t(tokens * options_.output_size())));
  plan->h0.assign(size_t(states * options_.state_size()), 0.0f);
  plan->hT = plan->h0;
  if (options_.cell == Cell::lstm) plan->c0.assign(size_t(states * options_.hidden_size), 0.0f), plan->cT = plan->c0;
  if (plan->masked) {
    plan->in.assign(groups, Buffer(size_t(tokens * options_.output_size())));
    plan->mask = plan->in;
  }
  if (training) {
    plan->src.assign(size_t(tokens * options_.input_size), 0.0f);
    plan->diff_src0 = plan->src;
    plan->diff_in.assign(groups, Buffer(size_t(tokens * options_.output_size())));
    plan->diff_h0 = plan->diff_hT = plan->h0;
    plan->diff_c0 = plan->diff_cT = plan->c0;
  }
  plan->runs.resize(groups);
  for (size_t g = 0; g < groups; ++g) build_run(*plan, g);
  size_t scratch_bytes = 0;
  for (const GroupRun& run : plan->runs)
    scratch_bytes = std::max({scratch_bytes, run.prims.fwd_scratchpad.get_size(), run.prims.bwd_scratchpad.get_size()});
  if (scratch_bytes > 0) {
    constexpr size_t kAlign = 4096;
    plan->scratchpad.reset(std::aligned_alloc(kAlign, (scratch_bytes + kAlign - 1) / kAlign * kAlign));
    if (!plan->scratchpad) throw std::runtime_error("onednn: cannot allocate a scratchpad of " +
                                                    std::to_string(scratch_bytes) + " bytes");
    for (GroupRun& run : plan->runs) {
      run.fwd_args[DNNL_ARG_SCRATCHPAD] = memory(run.prims.fwd_scratchpad, engine_, plan->scratchpad.get());
      if (training) run.bwd_args[DNNL_ARG_SCRATCHPAD] = memory(run.prims.bwd_scratchpad, engine_, plan->scratchpad.get());
    }
  }
  slot = std::move(plan);
  return *slot;
}

void OnednnStack::build_run(Plan& plan, size_t g) {
  Group& group = groups_[g];
  GroupRun& run = plan.runs[g];
  const bool last = g + 1 == groups_.size();
  const onednn::GroupShape shape{group.layer_count, group.input_size, plan.seq_len, plan.batch};
  run.prims = onednn::make_group_primitives(options_, shape, plan.training, tuning_.weights_any, engine_);
  const onednn::PlainDescs pd = onednn::plain_descs(options_, shape);
  auto over = [&](const memory::desc& md, float* data) { return md ? memory(md, engine_, data) : memory(); };
  const int64_t s_off = state_offset(group, plan, options_.state_size());
  const int64_t c_off = state_offset(group, plan, options_.hidden_size);
  const bool lstm = options_.cell == Cell::lstm;

  // Data: the caller's src/dst are bound per call where we do not keep copies.
  float* src_data = g == 0 ? (plan.training ? plan.src.data() : nullptr)
                           : (plan.masked ? plan.in[g].data() : plan.out[g - 1].data());
  run.src_layer = memory(pd.src_layer, engine_, src_data);
  run.dst_layer = memory(pd.dst_layer, engine_, plan.out[g].data());
  const memory src_iter = over(pd.src_iter, plan.h0.data() + s_off);
  const memory dst_iter = over(pd.dst_iter, plan.hT.data() + s_off);
  const memory src_iter_c = lstm ? over(pd.src_iter_c, plan.c0.data() + c_off) : memory();
  const memory dst_iter_c = lstm ? over(pd.dst_iter_c, plan.cT.data() + c_off) : memory();

  const onednn::PlainWeights& w = group.plain_ptrs;
  const memory plain_layer = over(pd.weights_layer, w.weights_layer);
  const memory plain_iter = over(pd.weights_iter, w.weights_iter);
  const memory bias = over(pd.bias, w.bias);
  const memory peephole = over(pd.peephole, w.peephole);
  const memory plain_projection = over(pd.projection, w.projection);

  auto& fa = run.fwd_args;
  fa = {{DNNL_ARG_SRC_LAYER, run.src_layer},
        {DNNL_ARG_SRC_ITER, src_iter},
        {DNNL_ARG_WEIGHTS_LAYER, converted(run.prims.fwd_weights_layer, plain_layer, run.fwd_reorders, true)},
        {DNNL_ARG_WEIGHTS_ITER, converted(run.prims.fwd_weights_iter, plain_iter, run.fwd_reorders, true)},
        {DNNL_ARG_BIAS, bias},
        {DNNL_ARG_DST_LAYER, run.dst_layer},
        {DNNL_ARG_DST_ITER, dst_iter}};
  if (lstm) fa[DNNL_ARG_SRC_ITER_C] = src_iter_c, fa[DNNL_ARG_DST_ITER_C] = dst_iter_c;
  if (peephole) fa[DNNL_ARG_WEIGHTS_PEEPHOLE] = peephole;
  if (plain_projection)
    fa[DNNL_ARG_WEIGHTS_PROJECTION] = converted(run.prims.fwd_projection, plain_projection, run.fwd_reorders, true);
  if (!plan.training) return;
  const memory workspace(run.prims.workspace, engine_);
  fa[DNNL_ARG_WORKSPACE] = workspace;

  // Backward: same inputs (its own weight formats), gradients into plain or reordered.
  auto& ba = run.bwd_args;
  ba = fa;
  ba[DNNL_ARG_WEIGHTS_LAYER] = converted(run.prims.bwd_weights_layer, plain_layer, run.bwd_reorders, true);
  ba[DNNL_ARG_WEIGHTS_ITER] = converted(run.prims.bwd_weights_iter, plain_iter, run.bwd_reorders, true);
  if (plain_projection)
    ba[DNNL_ARG_WEIGHTS_PROJECTION] = converted(run.prims.bwd_projection, plain_projection, run.bwd_reorders, true);
  const onednn::PlainWeights& dw = group.diff_ptrs;
  run.diff_weights_layer =
      converted(run.prims.diff_weights_layer, over(pd.weights_layer, dw.weights_layer), run.diff_reorders, false);
  run.diff_weights_iter =
      converted(run.prims.diff_weights_iter, over(pd.weights_iter, dw.weights_iter), run.diff_reorders, false);
  run.diff_bias = over(pd.bias, dw.bias);
  run.diff_peephole = over(pd.peephole, dw.peephole);
  if (plain_projection)
    run.diff_projection =
        converted(run.prims.diff_projection, over(pd.projection, dw.projection), run.diff_reorders, false);
  run.diff_src_layer = memory(pd.src_layer, engine_, g == 0 ? nullptr : plan.diff_in[g].data());
  run.diff_dst_layer = memory(pd.dst_layer, engine_, last ? nullptr : plan.diff_in[g + 1].data());
  ba[DNNL_ARG_DIFF_SRC_LAYER] = run.diff_src_layer;
  ba[DNNL_ARG_DIFF_DST_LAYER] = run.diff_dst_layer;
  ba[DNNL_ARG_DIFF_SRC_ITER] = over(pd.src_iter, plan.diff_h0.data() + s_off);
  ba[DNNL_ARG_DIFF_DST_ITER] = over(pd.dst_iter, plan.diff_hT.data() + s_off);
  if (lstm) {
    ba[DNNL_ARG_DIFF_SRC_ITER_C] = over(pd.src_iter_c, plan.diff_c0.data() + c_off);
    ba[DNNL_ARG_DIFF_DST_ITER_C] = over(pd.dst_iter_c, plan.diff_cT.data() + c_off);
  }
  ba[DNNL_ARG_DIFF_WEIGHTS_LAYER] = run.diff_weights_layer;
  ba[DNNL_ARG_DIFF_WEIGHTS_ITER] = run.diff_weights_iter;
  ba[DNNL_ARG_DIFF_BIAS] = run.diff_bias;
  if (run.diff_peephole) ba[DNNL_ARG_DIFF_WEIGHTS_PEEPHOLE] = run.diff_peephole;
  if (run.diff_projection) ba[DNNL_ARG_DIFF_WEIGHTS_PROJECTION] = run.diff_projection;
}

void OnednnStack::run_forward(const RecurrentForwardArgs& args, bool training) {
  Plan& plan = plan_for(args.seq_len, args.batch, training);
  last_training_ = nullptr;  // a failed or inference forward leaves nothing to differentiate
  // 1. Canonical -> plain oneDNN weights (weights.h), then into the primitives' formats.
  for (Group& group : groups_) group.map.to_onednn(args.params, group.plain_ptrs);
  // 2. States and input into the plan's buffers (missing states are zeros).
  copy_or_zero(args.h0, plan.h0);
  if (options_.cell == Cell::lstm) copy_or_zero(args.c0, plan.c0);
  const int64_t tokens = int64_t(args.seq_len) * args.batch;
  if (training) std::copy_n(args.src, tokens * options_.input_size, plan.src.data());
  else plan.runs.front().src_layer.set_data_handle(const_cast<float*>(args.src));  // read only
  if (!training) plan.runs.back().dst_layer.set_data_handle(args.dst);
  // 3. Groups in order; dropout between layers with the masks every backend draws.
  const int64_t out_count = tokens * options_.output_size();
  for (size_t g = 0; g < plan.runs.size(); ++g) {
    GroupRun& run = plan.runs[g];
    for (Reorder& r : run.fwd_reorders) r.primitive.execute(stream_, r.from, r.to);
    run.prims.forward.execute(stream_, run.fwd_args);
    stream_.wait();
    if (plan.masked && g + 1 < plan.runs.size())
      dropout_forward(plan.out[g].data(), plan.in[g + 1].data(), plan.mask[g].data(), out_count, options_.dropout,
                      args.dropout_seed, kRecurrentDropoutStream + uint64_t(groups_[g].first_layer));
  }
  // 4. Results the caller asked for.
  if (training) std::copy_n(plan.out.back().data(), out_count, args.dst);
  if (args.hT) std::copy(plan.hT.begin(), plan.hT.end(), args.hT);
  if (args.cT) std::copy(plan.cT.begin(), plan.cT.end(), args.cT);
  if (training) last_training_ = &plan;
}

void OnednnStack::run_backward(const RecurrentBackwardArgs& args) {
  Plan& plan = *last_training_;
  const int64_t out_count = int64_t(plan.seq_len) * plan.batch * options_.output_size();
  copy_or_zero(args.diff_hT, plan.diff_hT);
  if (options_.cell == Cell::lstm) copy_or_zero(args.diff_cT, plan.diff_cT);
  plan.runs.back().diff_dst_layer.set_data_handle(const_cast<float*>(args.diff_dst));  // read only
  plan.runs.front().diff_src_layer.set_data_handle(args.diff_src ? args.diff_src : plan.diff_src0.data());
  for (size_t g = plan.runs.size(); g-- > 0;) {
    GroupRun& run = plan.runs[g];
    // 1. Weights into backward's formats (from the plain copy the forward made).
    for (Reorder& r : run.bwd_reorders) r.primitive.execute(stream_, r.from, r.to);
    // 2. oneDNN 2.6 accumulates into the weight gradients: start them at zero.
    for (const memory* m : {&run.diff_weights_layer, &run.diff_weights_iter, &run.diff_bias, &run.diff_peephole,
                            &run.diff_projection})
      zero(*m);
    run.prims.backward.execute(stream_, run.bwd_args);
    for (Reorder& r : run.diff_reorders) r.primitive.execute(stream_, r.from, r.to);
    stream_.wait();
    // 3. Our contract ADDS parameter gradients into the caller's canonical buffer.
    groups_[g].map.add_gradients(groups_[g].diff_ptrs, args.diff_params);
    // 4. Through the dropout before this group: d out[g-1] = d in[g] * mask[g-1].
    if (plan.masked && g > 0) {
      float* diff = plan.diff_in[g].data();
      const float* mask = plan.mask[g - 1].data();
      for (int64_t i = 0; i < out_count; ++i) diff[i] *= mask[i];
    }
  }
  if (args.diff_h0) std::copy(plan.diff_h0.begin(), plan.diff_h0.end(), args.diff_h0);
  if (args.diff_c0) std::copy(plan.diff_c0.begin(), plan.diff_c0.end(), args.diff_c0);
}

}  // namespace

std::unique_ptr<RecurrentStack> make_onednn_stack(const RecurrentOptions& options, const OnednnTuning& tuning) {
  std::unique_ptr<RecurrentStack> stack;
  RNNLAB_ONEDNN(stack = std::make_unique<OnednnStack>(options, tuning))
  return stack;
}

std::unique_ptr<RecurrentStack> make_onednn_stack(const RecurrentOptions& options) {
  return make_onednn_stack(options, OnednnTuning{});
}

}  // namespace rnnlab::layers
