#include "layers/onednn/primitives.h"

#include <stdexcept>
#include <string>

namespace rnnlab::layers::onednn {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dims = memory::dims;

memory::desc f32(const dims& shape, tag format) { return memory::desc(shape, memory::data_type::f32, format); }

dnnl::rnn_direction onednn_direction(Direction direction) {
  switch (direction) {
    case Direction::forward: return dnnl::rnn_direction::unidirectional_left2right;
    case Direction::reverse: return dnnl::rnn_direction::unidirectional_right2left;
    case Direction::bidirectional_concat: return dnnl::rnn_direction::bidirectional_concat;
    case Direction::bidirectional_sum: return dnnl::rnn_direction::bidirectional_sum;
  }
  return dnnl::rnn_direction::unidirectional_left2right;
}

std::string describe(const RecurrentOptions& options) {
  std::string text = std::string(to_string(options.cell));
  if (options.peephole) text += "+peephole";
  if (options.projection_size > 0) text += "+projection";
  return text + ", " + std::string(to_string(options.direction));
}

// Descriptors the primitive is created with: our plain data/state/bias layouts, and for
// the weights either `any` (the primitive picks, e.g. a packed GEMM format) or ldigo.
struct CreateDescs {
  PlainDescs plain;
  memory::desc weights_layer, weights_iter, projection;
};

template <class Pd>
void query_forward(const Pd& pd, GroupPrimitives& out) {
  out.workspace = pd.workspace_desc();
  out.fwd_scratchpad = pd.scratchpad_desc();
  out.fwd_weights_layer = pd.weights_layer_desc();
  out.fwd_weights_iter = pd.weights_iter_desc();
  out.fwd_projection = pd.weights_projection_desc();
}

template <class Pd>
void query_backward(const Pd& pd, GroupPrimitives& out) {
  out.bwd_scratchpad = pd.scratchpad_desc();
  out.bwd_weights_layer = pd.weights_layer_desc();
  out.bwd_weights_iter = pd.weights_iter_desc();
  out.bwd_projection = pd.weights_projection_desc();
  out.diff_weights_layer = pd.diff_weights_layer_desc();
  out.diff_weights_iter = pd.diff_weights_iter_desc();
  out.diff_projection = pd.diff_weights_projection_desc();
}

void build(const RecurrentOptions& options, const CreateDescs& c, bool training, const dnnl::engine& engine,
           GroupPrimitives& out) {
  // A user scratchpad: the library's own is allocated and freed around every execution,
  // which showed up as page faults (kernel time) in every training step.
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const auto dir = onednn_direction(options.direction);
  const PlainDescs& p = c.plain;
  // Backward takes `any` for its weights and weight gradients: 2.6 wants them transposed
  // (ldgoi) for the data pass and gradients in its own format; we reorder to and from.
  const memory::desc any_layer(p.weights_layer.dims(), memory::data_type::f32, tag::any);
  const memory::desc any_iter(p.weights_iter.dims(), memory::data_type::f32, tag::any);
  const memory::desc any_projection =
      options.projection_size > 0 ? memory::desc(p.projection.dims(), memory::data_type::f32, tag::any) : memory::desc();
  switch (options.cell) {
    case Cell::rnn_tanh:
    case Cell::rnn_relu: {
      const auto activation =
          options.cell == Cell::rnn_tanh ? dnnl::algorithm::eltwise_tanh : dnnl::algorithm::eltwise_relu;
      dnnl::vanilla_rnn_forward::desc fwd(prop, activation, dir, p.src_layer, p.src_iter, c.weights_layer,
                                          c.weights_iter, p.bias, p.dst_layer, p.dst_iter);
      dnnl::vanilla_rnn_forward::primitive_desc fwd_pd(fwd, attr, engine);
      out.forward = dnnl::vanilla_rnn_forward(fwd_pd);
      query_forward(fwd_pd, out);
      if (!training) return;
      dnnl::vanilla_rnn_backward::desc bwd(dnnl::prop_kind::backward, activation, dir, p.src_layer, p.src_iter,
                                           any_layer, any_iter, p.bias, p.dst_layer, p.dst_iter, p.src_layer,
                                           p.src_iter, any_layer, any_iter, p.bias, p.dst_layer, p.dst_iter);
      dnnl::vanilla_rnn_backward::primitive_desc bwd_pd(bwd, attr, engine, fwd_pd);
      out.backward = dnnl::vanilla_rnn_backward(bwd_pd);
      query_backward(bwd_pd, out);
      return;
    }
    case Cell::lstm: {
      // The v3 descriptor covers plain, peephole and projection LSTMs (zero descs = absent).
      dnnl::lstm_forward::desc fwd(prop, dir, p.src_layer, p.src_iter, p.src_iter_c, c.weights_layer,
                                   c.weights_iter, p.peephole, c.projection, p.bias, p.dst_layer, p.dst_iter,
                                   p.dst_iter_c);
      dnnl::lstm_forward::primitive_desc fwd_pd(fwd, attr, engine);
      out.forward = dnnl::lstm_forward(fwd_pd);
      query_forward(fwd_pd, out);
      if (!training) return;
      dnnl::lstm_backward::desc bwd(dnnl::prop_kind::backward, dir, p.src_layer, p.src_iter, p.src_iter_c,
                                    any_layer, any_iter, p.peephole, any_projection, p.bias, p.dst_layer,
                                    p.dst_iter, p.dst_iter_c, p.src_layer, p.src_iter, p.src_iter_c, any_layer,
                                    any_iter, p.peephole, any_projection, p.bias, p.dst_layer, p.dst_iter,
                                    p.dst_iter_c);
      dnnl::lstm_backward::primitive_desc bwd_pd(bwd, attr, engine, fwd_pd);
      out.backward = dnnl::lstm_backward(bwd_pd);
      query_backward(bwd_pd, out);
      return;
    }
    case Cell::gru: {
      dnnl::lbr_gru_forward::desc fwd(prop, dir, p.src_layer, p.src_iter, c.weights_layer, c.weights_iter, p.bias,
                                      p.dst_layer, p.dst_iter);
      dnnl::lbr_gru_forward::primitive_desc fwd_pd(fwd, attr, engine);
      out.forward = dnnl::lbr_gru_forward(fwd_pd);
      query_forward(fwd_pd, out);
      if (!training) return;
      dnnl::lbr_gru_backward::desc bwd(dnnl::prop_kind::backward, dir, p.src_layer, p.src_iter, any_layer, any_iter,
                                       p.bias, p.dst_layer, p.dst_iter, p.src_layer, p.src_iter, any_layer, any_iter,
                                       p.bias, p.dst_layer, p.dst_iter);
      dnnl::lbr_gru_backward::primitive_desc bwd_pd(bwd, attr, engine, fwd_pd);
      out.backward = dnnl::lbr_gru_backward(bwd_pd);
      query_backward(bwd_pd, out);
      return;
    }
  }
}

}  // namespace

PlainDescs plain_descs(const RecurrentOptions& options, const GroupShape& shape) {
  const memory::dim layers = shape.layer_count, dirs = direction_count(options.direction);
  const memory::dim hidden = options.hidden_size, state = options.state_size();
  const memory::dim gates = gate_count(options.cell), bias_gates = options.cell == Cell::gru ? 4 : gates;
  const memory::dim seq = shape.seq_len, batch = shape.batch;
  const bool lstm = options.cell == Cell::lstm;
  PlainDescs d;
  d.src_layer = f32({seq, batch, shape.input_size}, tag::tnc);
  d.dst_layer = f32({seq, batch, options.output_size()}, tag::tnc);
  d.src_iter = f32({layers, dirs, batch, state}, tag::ldnc);
  d.dst_iter = d.src_iter;
  if (lstm) d.src_iter_c = d.dst_iter_c = f32({layers, dirs, batch, hidden}, tag::ldnc);
  d.weights_layer = f32({layers, dirs, shape.input_size, gates, hidden}, tag::ldgoi);
  d.weights_iter = f32({layers, dirs, state, gates, hidden}, tag::ldgoi);
  d.bias = f32({layers, dirs, bias_gates, hidden}, tag::ldgo);
  if (options.peephole) d.peephole = f32({layers, dirs, 3, hidden}, tag::ldgo);
  if (options.projection_size > 0) d.projection = f32({layers, dirs, hidden, state}, tag::ldoi);
  return d;
}

GroupPrimitives make_group_primitives(const RecurrentOptions& options, const GroupShape& shape, bool training,
                                      bool weights_any, const dnnl::engine& engine) {
  CreateDescs c;
  c.plain = plain_descs(options, shape);
  const tag weights_tag = weights_any ? tag::any : tag::ldigo;
  c.weights_layer = memory::desc(c.plain.weights_layer.dims(), memory::data_type::f32, weights_tag);
  c.weights_iter = memory::desc(c.plain.weights_iter.dims(), memory::data_type::f32, weights_tag);
  if (options.projection_size > 0)
    c.projection = memory::desc(c.plain.projection.dims(), memory::data_type::f32, weights_any ? tag::any : tag::ldio);
  GroupPrimitives out;
  try {
    build(options, c, training, engine, out);
  } catch (const dnnl::error& error) {
    if (error.status == dnnl_unimplemented)
      throw std::invalid_argument("onednn backend: oneDNN " + std::to_string(dnnl_version()->major) + "." +
                                  std::to_string(dnnl_version()->minor) + " has no " +
                                  (training ? "training (forward_training + backward)" : "inference") +
                                  " implementation for " + describe(options) + " on this CPU");
    throw;
  }
  return out;
}

}  // namespace rnnlab::layers::onednn
