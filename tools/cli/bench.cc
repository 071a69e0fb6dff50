// `rnnlab bench`: training and inference throughput of one recurrent stack, measured the
// way shared/peers/torch_rnn_bench.py measures PyTorch (same FLOP count, same step, same
// JSON field names), so the two can be run side by side and compared as ratios.
//
// train step = zero grads + forward(training) + MSE loss vs a fixed random target +
// backward + SGD step on the flat parameter buffer; infer step = forward(inference).
#include <CLI/CLI.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include "layers/losses.h"
#include "layers/random.h"
#include "layers/recurrent.h"
#include "layers/tuned_stack.h"
#include "tools/cli/commands.h"

namespace rnnlab::cli {

#ifdef RNNLAB_WITH_CUDA
// tools/cli/bench_cudnn.cc: the same step on the GPU, data already on the device.
std::function<void()> make_cudnn_bench_step(const layers::RecurrentOptions& options, int seq_len, int batch,
                                            const std::vector<float>& params, const std::vector<float>& src,
                                            const std::vector<float>& target, bool train, float learning_rate,
                                            bool allow_tf32, bool fuse_layers);
#endif

namespace {

using layers::Cell;
using layers::Direction;

struct BenchOptions {
  std::string backend = "onednn";
  std::string cell = "lstm";
  int input = 0;  // 0: = hidden
  int hidden = 512;
  int layers = 1;
  bool bidirectional = false;
  int batch = 64;
  int seq = 50;
  std::vector<int> threads{1};
  std::string mode = "train";
  int warmup = 3;
  int steps = 10;
  double min_time = 2.0;
  bool grid = false;
  std::string weights_format = "any";
  std::string layer_primitives = "fused";
  bool tf32 = false;
  std::string out;
};

struct Config {
  std::string cell;
  int input, hidden, layers;
  bool bidirectional;
};

// Whole-machine busy time against our own, from /proc, to flag measurements disturbed by
// other processes (the machines are shared); the same method as the peer's cpu_monitor.py.
class CpuWindow {
 public:
  CpuWindow() : start_(now()), busy_(busy_jiffies()), self_(self_jiffies()) {}
  void stop(double& foreign_cores, double& self_cores) const {
    const double wall = now() - start_, hz = double(sysconf(_SC_CLK_TCK));
    const double total = double(busy_jiffies() - busy_) / hz / wall;
    self_cores = double(self_jiffies() - self_) / hz / wall;
    foreign_cores = std::max(0.0, total - self_cores);
  }

 private:
  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  static long long busy_jiffies() {
    std::ifstream in("/proc/stat");
    std::string cpu;
    long long v[8] = {0};
    in >> cpu;
    for (long long& x : v) in >> x;
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];  // user nice system irq softirq steal
  }
  static long long self_jiffies() {
    std::ifstream in("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string rest = text.substr(text.rfind(')') + 2);
    long long utime = 0, stime = 0;
    std::sscanf(rest.c_str(), "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lld %lld", &utime, &stime);
    return utime + stime;
  }
  double start_;
  long long busy_, self_;
};

Cell cell_of(const std::string& name) { return name == "rnn" ? Cell::rnn_tanh : layers::parse_cell(name); }

// FLOP convention of the peer script: GEMMs only, 2*B*G*H*(I_l + H) per layer, direction
// and step; training counts 3x forward.
double forward_flops(const Config& c, int batch, int seq) {
  const int gates = layers::gate_count(cell_of(c.cell)), dirs = c.bidirectional ? 2 : 1;
  double total = 0.0;
  for (int l = 0; l < c.layers; ++l) {
    const double input = l == 0 ? c.input : double(c.hidden) * dirs;
    total += dirs * 2.0 * batch * gates * c.hidden * (input + c.hidden);
  }
  return total * seq;
}

std::unique_ptr<layers::RecurrentStack> make_stack(const BenchOptions& o, const layers::RecurrentOptions& options) {
  layers::StackTuning tuning;
  tuning.weights_any = o.weights_format == "any";
  tuning.fuse_layers = o.layer_primitives == "fused";
  return layers::make_tuned_stack(o.backend, options, tuning);
}

double percentile_median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string run_one(const BenchOptions& o, const Config& c, const std::string& mode, int threads) {
  omp_set_num_threads(threads);
  layers::RecurrentOptions options;
  options.cell = cell_of(c.cell);
  options.input_size = c.input;
  options.hidden_size = c.hidden;
  options.num_layers = c.layers;
  options.direction = c.bidirectional ? Direction::bidirectional_concat : Direction::forward;
  const bool on_gpu = o.backend == "cudnn";
  auto stack = on_gpu ? nullptr : make_stack(o, options);
  const int64_t count = layers::recurrent_parameter_count(options);
  const int64_t out_count = int64_t(o.seq) * o.batch * options.output_size();
  // PyTorch's default initialisation range, fixed random input and target.
  const float bound = 1.0f / std::sqrt(float(c.hidden));
  std::vector<float> params(static_cast<size_t>(count)), grads(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) params[size_t(i)] = bound * (2.0f * layers::random_uniform(1, 1, uint64_t(i)) - 1.0f);
  std::vector<float> src(static_cast<size_t>(int64_t(o.seq) * o.batch * c.input)), target(static_cast<size_t>(out_count));
  for (size_t i = 0; i < src.size(); ++i) src[i] = float(layers::random_normal(1, 2, i));
  for (size_t i = 0; i < target.size(); ++i) target[i] = float(layers::random_normal(1, 3, i));
  std::vector<float> dst(static_cast<size_t>(out_count)), diff_dst(static_cast<size_t>(out_count));
  const float learning_rate = 0.01f;

  layers::RecurrentForwardArgs fwd;
  fwd.seq_len = o.seq;
  fwd.batch = o.batch;
  fwd.params = params.data();
  fwd.src = src.data();
  fwd.dst = dst.data();
  layers::RecurrentBackwardArgs bwd;
  bwd.diff_dst = diff_dst.data();
  bwd.diff_params = grads.data();
  const bool train = mode == "train";
  std::function<void()> step = [&] {
    if (!train) return stack->forward(fwd, false);
    std::fill(grads.begin(), grads.end(), 0.0f);
    stack->forward(fwd, true);
    layers::mean_squared_error(dst.data(), target.data(), out_count, diff_dst.data());
    stack->backward(bwd);
    for (int64_t i = 0; i < count; ++i) params[size_t(i)] -= learning_rate * grads[size_t(i)];
  };
  if (on_gpu) {
#ifdef RNNLAB_WITH_CUDA
    step = make_cudnn_bench_step(options, o.seq, o.batch, params, src, target, train, learning_rate, o.tf32,
                                 o.layer_primitives == "fused");
#else
    throw std::invalid_argument("bench: backend cudnn is not built (RNNLAB_WITH_CUDA off or CUDA not found)");
#endif
  }
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < o.warmup; ++i) step();
  std::vector<double> times;
  CpuWindow window;
  const auto start = clock::now();
  while (int(times.size()) < o.steps || std::chrono::duration<double>(clock::now() - start).count() < o.min_time) {
    const auto t0 = clock::now();
    step();
    times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    if (times.size() >= 1000) break;
  }
  double foreign = 0.0, self = 0.0;
  window.stop(foreign, self);
  const double flops = forward_flops(c, o.batch, o.seq) * (train ? 3.0 : 1.0);
  const double tokens = double(o.batch) * o.seq;
  const double median = percentile_median(times);
  const double fastest = *std::min_element(times.begin(), times.end());
  const double slowest = *std::max_element(times.begin(), times.end());
  char line[2048];
  std::snprintf(
      line, sizeof line,
      "{\"bench\": \"rnnlab_rnn\", \"backend\": \"%s\", \"mode\": \"%s\", \"cell\": \"%s\", \"input\": %d, "
      "\"hidden\": %d, \"layers\": %d, \"bidirectional\": %s, \"batch\": %d, \"seq\": %d, \"threads\": %d, "
      "\"tokens_per_s_median\": %.1f, \"tokens_per_s_min\": %.1f, \"tokens_per_s_max\": %.1f, "
      "\"step_ms_median\": %.3f, \"step_ms_min\": %.3f, \"step_ms_max\": %.3f, \"gflops_median\": %.2f, "
      "\"gflops_min\": %.2f, \"gflops_max\": %.2f, \"counted_gflop_per_step\": %.4f, \"timed_steps\": %zu, "
      "\"warmup_steps\": %d, \"weights_format\": \"%s\", \"layer_primitives\": \"%s\", "
      "\"foreign_cpu_cores\": %.3f, \"self_cpu_cores\": %.3f}",
      o.backend.c_str(), mode.c_str(), c.cell.c_str(), c.input, c.hidden, c.layers, c.bidirectional ? "true" : "false",
      o.batch, o.seq, threads, tokens / median, tokens / slowest, tokens / fastest, median * 1e3, fastest * 1e3,
      slowest * 1e3, flops / median / 1e9, flops / slowest / 1e9, flops / fastest / 1e9, flops / 1e9, times.size(),
      o.warmup, on_gpu ? (o.tf32 ? "tf32" : "fp32") : o.weights_format.c_str(), o.layer_primitives.c_str(),
      foreign, self);
  return line;
}

int run_bench(const BenchOptions& o) {
  std::vector<Config> configs;
  if (o.grid) {
    for (const char* cell : {"rnn", "lstm", "gru"})
      for (int hidden : {128, 512})
        for (int layer_count : {1, 2})
          for (bool bidirectional : {false, true}) configs.push_back({cell, hidden, hidden, layer_count, bidirectional});
  } else {
    configs.push_back({o.cell, o.input > 0 ? o.input : o.hidden, o.hidden, o.layers, o.bidirectional});
  }
  const std::vector<std::string> modes =
      o.mode == "both" ? std::vector<std::string>{"train", "infer"} : std::vector<std::string>{o.mode};
  std::ofstream out;
  if (!o.out.empty()) {
    out.open(o.out, std::ios::app);
    if (!out) throw std::runtime_error("bench: cannot open --out file '" + o.out + "'");
  }
  for (const Config& c : configs)
    for (const std::string& mode : modes)
      for (int threads : o.threads) {
        const std::string line = run_one(o, c, mode, threads);
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        if (out) out << line << "\n" << std::flush;
      }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Commands& commands) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand("bench", "Throughput of a recurrent stack (training and inference), JSON lines");
  sub->add_option("--backend", options->backend, "recurrent backend")->capture_default_str();
  sub->add_option("--cell", options->cell, "rnn (tanh), rnn_tanh, rnn_relu, lstm, gru")->capture_default_str();
  sub->add_option("--input", options->input, "input size (default: = hidden)");
  sub->add_option("--hidden", options->hidden, "hidden size")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--layers", options->layers, "stacked layers")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_flag("--bidirectional", options->bidirectional, "bidirectional (concat)");
  sub->add_option("--batch", options->batch, "batch size")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--seq", options->seq, "sequence length")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--threads", options->threads, "OpenMP thread counts to measure")->capture_default_str();
  sub->add_option("--mode", options->mode, "train, infer or both")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "infer", "both"}));
  sub->add_option("--warmup", options->warmup, "untimed steps first")->capture_default_str();
  sub->add_option("--steps", options->steps, "timed steps (at least)")->capture_default_str();
  sub->add_option("--min-time", options->min_time, "keep timing until this many seconds")->capture_default_str();
  sub->add_flag("--grid", options->grid, "rnn/lstm/gru x hidden 128,512 x layers 1,2 x uni/bi, input = hidden");
  sub->add_option("--weights-format", options->weights_format, "onednn: any (primitive picks) or ldigo")
      ->capture_default_str()
      ->check(CLI::IsMember({"any", "ldigo"}));
  sub->add_option("--layer-primitives", options->layer_primitives,
                  "onednn/cudnn: fused (one primitive/RNN per stack where possible) or per-layer")
      ->capture_default_str()
      ->check(CLI::IsMember({"fused", "per-layer"}));
  sub->add_flag("--tf32", options->tf32,
                "cudnn: allow TF32 tensor cores (PyTorch's default); reported as weights_format tf32/fp32");
  sub->add_option("--out", options->out, "also append the JSON lines to this file");
  commands["bench"] = [options] {
    if (options->steps < 1) throw std::invalid_argument("bench: --steps must be >= 1");
    for (int t : options->threads)
      if (t < 1) throw std::invalid_argument("bench: --threads must be >= 1");
    cell_of(options->cell);  // unknown names throw with the choices
    return run_bench(*options);
  };
}

}  // namespace rnnlab::cli
