#include "layers/reference/reference_cell.h"

#include <algorithm>
#include <cmath>

namespace rnnlab::layers::reference {
namespace {

template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <typename T>
T dot(const T* a, const T* b, int count) {
  T sum = 0;
  for (int i = 0; i < count; ++i) sum += a[i] * b[i];
  return sum;
}

// Index of the step processed before real time t (the one whose state t reads).
int previous_time(const CellShape& shape, int t) { return shape.reverse ? t + 1 : t - 1; }
int time_of_step(const CellShape& shape, int step) { return shape.reverse ? shape.seq_len - 1 - step : step; }

}  // namespace

template <typename T>
void cell_forward(const CellShape& shape, const CellTensors<const T>& params, const T* src, const T* h_init,
                  const T* c_init, CellActivations<T>& out) {
  const int N = shape.batch, I = shape.input_size, H = shape.hidden_size, S = shape.state_size;
  const int GH = shape.gates * H;
  const int64_t steps = shape.seq_len;
  const bool lstm = shape.cell == Cell::lstm;
  out.state.assign(steps * N * S, T(0));
  out.gates.assign(steps * N * GH, T(0));
  out.cell.assign(lstm ? steps * N * H : 0, T(0));
  out.unprojected.assign(shape.projection ? steps * N * H : 0, T(0));
  out.hidden_n.assign(shape.cell == Cell::gru ? steps * N * H : 0, T(0));
  out.state_init.assign(int64_t(N) * S, T(0));
  if (h_init) out.state_init.assign(h_init, h_init + int64_t(N) * S);
  out.cell_init.assign(lstm ? int64_t(N) * H : 0, T(0));
  if (lstm && c_init) out.cell_init.assign(c_init, c_init + int64_t(N) * H);

  std::vector<T> pre_ih(GH), pre_hh(GH);
  for (int step = 0; step < shape.seq_len; ++step) {
    const int t = time_of_step(shape, step);
    const int64_t prev = previous_time(shape, t);
    const T* h_prev_block = step == 0 ? out.state_init.data() : out.state.data() + prev * N * S;
    const T* c_prev_block = !lstm ? nullptr : step == 0 ? out.cell_init.data() : out.cell.data() + prev * N * H;
    for (int n = 0; n < N; ++n) {
      const int64_t row = int64_t(t) * N + n;
      const T* x = src + row * I;
      const T* h_prev = h_prev_block + int64_t(n) * S;
      T* gate = out.gates.data() + row * GH;
      T* h = out.state.data() + row * S;

      // 1. Input and recurrent pre-activations, kept apart because GRU needs W_hn h + b_hn.
      for (int g = 0; g < GH; ++g) {
        pre_ih[g] = params.bias_ih[g] + dot(params.weight_ih + int64_t(g) * I, x, I);
        pre_hh[g] = (params.bias_hh ? params.bias_hh[g] : T(0)) + dot(params.weight_hh + int64_t(g) * S, h_prev, S);
      }

      // 2. The cell's nonlinearities.
      switch (shape.cell) {
        case Cell::rnn_tanh:
        case Cell::rnn_relu:
          for (int j = 0; j < H; ++j) {
            const T a = pre_ih[j] + pre_hh[j];
            gate[j] = shape.cell == Cell::rnn_tanh ? std::tanh(a) : (a > T(0) ? a : T(0));
            h[j] = gate[j];
          }
          break;
        case Cell::lstm: {
          const T* c_prev = c_prev_block + int64_t(n) * H;
          const T* peep = params.weight_peephole;
          T* c = out.cell.data() + row * H;
          T* m = shape.projection ? out.unprojected.data() + row * H : h;
          for (int j = 0; j < H; ++j) {
            const T i = sigmoid(pre_ih[j] + pre_hh[j] + (peep ? peep[j] * c_prev[j] : T(0)));
            const T f = sigmoid(pre_ih[H + j] + pre_hh[H + j] + (peep ? peep[H + j] * c_prev[j] : T(0)));
            const T g = std::tanh(pre_ih[2 * H + j] + pre_hh[2 * H + j]);
            c[j] = f * c_prev[j] + i * g;
            // The output gate peeks at the NEW cell state (oneDNN's peephole LSTM).
            const T o = sigmoid(pre_ih[3 * H + j] + pre_hh[3 * H + j] + (peep ? peep[2 * H + j] * c[j] : T(0)));
            gate[j] = i, gate[H + j] = f, gate[2 * H + j] = g, gate[3 * H + j] = o;
            m[j] = o * std::tanh(c[j]);
          }
          // 3. Projection (PyTorch proj_size): h = W_hr m.
          if (shape.projection)
            for (int s = 0; s < S; ++s) h[s] = dot(params.weight_hr + int64_t(s) * H, m, H);
          break;
        }
        case Cell::gru:
          for (int j = 0; j < H; ++j) {
            const T r = sigmoid(pre_ih[j] + pre_hh[j]);
            const T z = sigmoid(pre_ih[H + j] + pre_hh[H + j]);
            const T hidden_n = pre_hh[2 * H + j];
            const T cand = std::tanh(pre_ih[2 * H + j] + r * hidden_n);
            gate[j] = r, gate[H + j] = z, gate[2 * H + j] = cand;
            out.hidden_n[row * H + j] = hidden_n;
            h[j] = (T(1) - z) * cand + z * h_prev[j];
          }
          break;
      }
    }
  }
}

template <typename T>
void cell_backward(const CellShape& shape, const CellTensors<const T>& params, const T* src,
                   const CellActivations<T>& acts, const T* diff_state, const T* diff_h_last, const T* diff_c_last,
                   const CellTensors<T>& grads, T* diff_src, T* diff_h_init, T* diff_c_init) {
  const int N = shape.batch, I = shape.input_size, H = shape.hidden_size, S = shape.state_size;
  const int GH = shape.gates * H;
  const bool lstm = shape.cell == Cell::lstm;
  // Gradient flowing into the state carried to the step processed next (i.e. earlier in
  // BPTT order): starts as the gradient of the final state.
  std::vector<T> dh_carry(int64_t(N) * S, T(0)), dc_carry(lstm ? int64_t(N) * H : 0, T(0));
  if (diff_h_last) dh_carry.assign(diff_h_last, diff_h_last + int64_t(N) * S);
  if (lstm && diff_c_last) dc_carry.assign(diff_c_last, diff_c_last + int64_t(N) * H);
  std::vector<T> dh_prev(dh_carry.size()), dc_prev(dc_carry.size());
  std::vector<T> dh(S), dm(H), da_ih(GH), da_hh(GH);

  for (int step = shape.seq_len - 1; step >= 0; --step) {
    const int t = time_of_step(shape, step);
    const int64_t prev = previous_time(shape, t);
    const T* h_prev_block = step == 0 ? acts.state_init.data() : acts.state.data() + prev * N * S;
    const T* c_prev_block = !lstm ? nullptr : step == 0 ? acts.cell_init.data() : acts.cell.data() + prev * N * H;
    std::fill(dh_prev.begin(), dh_prev.end(), T(0));
    for (int n = 0; n < N; ++n) {
      const int64_t row = int64_t(t) * N + n;
      const T* x = src + row * I;
      const T* h_prev = h_prev_block + int64_t(n) * S;
      const T* gate = acts.gates.data() + row * GH;
      // 1. Total gradient of h_t: from this step's output and from the step after it.
      for (int s = 0; s < S; ++s) dh[s] = diff_state[row * S + s] + dh_carry[int64_t(n) * S + s];

      // 2. Back through the nonlinearities to the pre-activations (input and recurrent
      //    parts differ only for GRU's n gate).
      switch (shape.cell) {
        case Cell::rnn_tanh:
        case Cell::rnn_relu:
          for (int j = 0; j < H; ++j) {
            const T y = gate[j];
            const T slope = shape.cell == Cell::rnn_tanh ? T(1) - y * y : (y > T(0) ? T(1) : T(0));
            da_ih[j] = da_hh[j] = dh[j] * slope;
          }
          break;
        case Cell::lstm: {
          const T* c_prev = c_prev_block + int64_t(n) * H;
          const T* c = acts.cell.data() + row * H;
          const T* peep = params.weight_peephole;
          if (shape.projection) {
            const T* m = acts.unprojected.data() + row * H;
            std::fill(dm.begin(), dm.end(), T(0));
            for (int s = 0; s < S; ++s)
              for (int j = 0; j < H; ++j) {
                grads.weight_hr[int64_t(s) * H + j] += dh[s] * m[j];
                dm[j] += params.weight_hr[int64_t(s) * H + j] * dh[s];
              }
          } else {
            std::copy(dh.begin(), dh.end(), dm.begin());
          }
          for (int j = 0; j < H; ++j) {
            const T i = gate[j], f = gate[H + j], g = gate[2 * H + j], o = gate[3 * H + j];
            const T tanh_c = std::tanh(c[j]);
            const T da_o = dm[j] * tanh_c * o * (T(1) - o);
            // c_t reaches the loss through c_{t+1}, through h_t, and through o's peephole.
            const T dc = dc_carry[int64_t(n) * H + j] + dm[j] * o * (T(1) - tanh_c * tanh_c) +
                         (peep ? da_o * peep[2 * H + j] : T(0));
            const T da_f = dc * c_prev[j] * f * (T(1) - f);
            const T da_i = dc * g * i * (T(1) - i);
            const T da_g = dc * i * (T(1) - g * g);
            dc_prev[int64_t(n) * H + j] = dc * f + (peep ? da_i * peep[j] + da_f * peep[H + j] : T(0));
            if (peep) {
              grads.weight_peephole[j] += da_i * c_prev[j];
              grads.weight_peephole[H + j] += da_f * c_prev[j];
              grads.weight_peephole[2 * H + j] += da_o * c[j];
            }
            da_ih[j] = da_i, da_ih[H + j] = da_f, da_ih[2 * H + j] = da_g, da_ih[3 * H + j] = da_o;
          }
          std::copy(da_ih.begin(), da_ih.end(), da_hh.begin());
          break;
        }
        case Cell::gru:
          for (int j = 0; j < H; ++j) {
            const T r = gate[j], z = gate[H + j], cand = gate[2 * H + j];
            const T hidden_n = acts.hidden_n[row * H + j];
            const T da_n = dh[j] * (T(1) - z) * (T(1) - cand * cand);
            const T da_r = da_n * hidden_n * r * (T(1) - r);
            const T da_z = dh[j] * (h_prev[j] - cand) * z * (T(1) - z);
            da_ih[j] = da_hh[j] = da_r;
            da_ih[H + j] = da_hh[H + j] = da_z;
            da_ih[2 * H + j] = da_n;
            da_hh[2 * H + j] = da_n * r;  // r scales (W_hn h + b_hn) as a whole
            dh_prev[int64_t(n) * S + j] += dh[j] * z;  // the direct path h_t = ... + z h_{t-1}
          }
          break;
      }

      // 3. Back through the affine maps: parameter gradients, diff_src, diff h_{t-1}.
      for (int g = 0; g < GH; ++g) {
        grads.bias_ih[g] += da_ih[g];
        if (grads.bias_hh) grads.bias_hh[g] += da_hh[g];
        const T* w_ih = params.weight_ih + int64_t(g) * I;
        T* gw_ih = grads.weight_ih + int64_t(g) * I;
        for (int k = 0; k < I; ++k) {
          gw_ih[k] += da_ih[g] * x[k];
          diff_src[row * I + k] += w_ih[k] * da_ih[g];
        }
        const T* w_hh = params.weight_hh + int64_t(g) * S;
        T* gw_hh = grads.weight_hh + int64_t(g) * S;
        for (int s = 0; s < S; ++s) {
          gw_hh[s] += da_hh[g] * h_prev[s];
          dh_prev[int64_t(n) * S + s] += w_hh[s] * da_hh[g];
        }
      }
    }
    dh_carry.swap(dh_prev);
    dc_carry.swap(dc_prev);
  }
  if (diff_h_init) std::copy(dh_carry.begin(), dh_carry.end(), diff_h_init);
  if (diff_c_init && lstm) std::copy(dc_carry.begin(), dc_carry.end(), diff_c_init);
}

#define RNNLAB_REFERENCE_CELL(T)                                                                             \
  template void cell_forward<T>(const CellShape&, const CellTensors<const T>&, const T*, const T*, const T*, \
                                CellActivations<T>&);                                                        \
  template void cell_backward<T>(const CellShape&, const CellTensors<const T>&, const T*,                    \
                                 const CellActivations<T>&, const T*, const T*, const T*, const CellTensors<T>&, \
                                 T*, T*, T*);
RNNLAB_REFERENCE_CELL(float)
RNNLAB_REFERENCE_CELL(double)
#undef RNNLAB_REFERENCE_CELL

}  // namespace rnnlab::layers::reference
