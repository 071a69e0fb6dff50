#include "layers/recurrent.h"

#include <stdexcept>

#include "layers/padded_stack.h"
#include "layers/reference/reference_stack.h"
#ifdef RNNLAB_HAVE_ONEDNN
#include "layers/onednn/onednn_stack.h"
#endif
#ifdef RNNLAB_WITH_CUDA
#include "layers/cudnn/cudnn_stack.h"
#endif

namespace rnnlab::layers {
namespace {

struct CellName {
  Cell cell;
  std::string_view name;
};
constexpr CellName kCells[] = {
    {Cell::rnn_tanh, "rnn_tanh"}, {Cell::rnn_relu, "rnn_relu"}, {Cell::lstm, "lstm"}, {Cell::gru, "gru"}};

struct DirectionName {
  Direction direction;
  std::string_view name;
};
constexpr DirectionName kDirections[] = {{Direction::forward, "forward"},
                                         {Direction::reverse, "reverse"},
                                         {Direction::bidirectional_concat, "bidirectional_concat"},
                                         {Direction::bidirectional_sum, "bidirectional_sum"}};

template <typename Table>
std::string choices(const Table& table) {
  std::string out;
  for (const auto& entry : table) out += (out.empty() ? "" : ", ") + std::string(entry.name);
  return out;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("recurrent options: " + message);
}

}  // namespace

Cell parse_cell(std::string_view name) {
  for (const auto& entry : kCells)
    if (entry.name == name) return entry.cell;
  throw std::invalid_argument("unknown cell '" + std::string(name) + "' (choices: " + choices(kCells) + ")");
}

Direction parse_direction(std::string_view name) {
  for (const auto& entry : kDirections)
    if (entry.name == name) return entry.direction;
  throw std::invalid_argument("unknown direction '" + std::string(name) +
                              "' (choices: " + choices(kDirections) + ")");
}

std::string_view to_string(Cell cell) {
  for (const auto& entry : kCells)
    if (entry.cell == cell) return entry.name;
  return "?";
}

std::string_view to_string(Direction direction) {
  for (const auto& entry : kDirections)
    if (entry.direction == direction) return entry.name;
  return "?";
}

int gate_count(Cell cell) {
  switch (cell) {
    case Cell::rnn_tanh:
    case Cell::rnn_relu: return 1;
    case Cell::lstm: return 4;
    case Cell::gru: return 3;
  }
  return 0;
}

int direction_count(Direction direction) {
  return direction == Direction::forward || direction == Direction::reverse ? 1 : 2;
}

int RecurrentOptions::state_size() const { return projection_size > 0 ? projection_size : hidden_size; }

int RecurrentOptions::output_size() const {
  return direction == Direction::bidirectional_concat ? 2 * state_size() : state_size();
}

int RecurrentOptions::layer_input_size(int layer) const { return layer == 0 ? input_size : output_size(); }

void validate(const RecurrentOptions& options) {
  require(options.input_size > 0, "input_size must be > 0, got " + std::to_string(options.input_size));
  require(options.hidden_size > 0, "hidden_size must be > 0, got " + std::to_string(options.hidden_size));
  require(options.num_layers > 0, "num_layers must be > 0, got " + std::to_string(options.num_layers));
  require(options.dropout >= 0.0f && options.dropout < 1.0f,
          "dropout must be in [0, 1), got " + std::to_string(options.dropout));
  require(!options.peephole || options.cell == Cell::lstm, "peephole needs cell lstm");
  require(options.projection_size >= 0, "projection_size must be >= 0");
  require(options.projection_size == 0 || options.cell == Cell::lstm, "projection_size needs cell lstm");
  require(options.projection_size < options.hidden_size || options.projection_size == 0,
          "projection_size must be < hidden_size (PyTorch's rule)");
}

int64_t ParamInfo::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<ParamInfo> recurrent_parameters(const RecurrentOptions& options) {
  validate(options);
  const int64_t gates_hidden = int64_t(gate_count(options.cell)) * options.hidden_size;
  const int64_t state = options.state_size();
  std::vector<ParamInfo> params;
  int64_t offset = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    ParamInfo info{std::move(name), std::move(shape), offset};
    offset += info.size();
    params.push_back(std::move(info));
  };
  for (int layer = 0; layer < options.num_layers; ++layer) {
    for (int dir = 0; dir < direction_count(options.direction); ++dir) {
      const std::string suffix = "_l" + std::to_string(layer) + (dir == 1 ? "_reverse" : "");
      add("weight_ih" + suffix, {gates_hidden, options.layer_input_size(layer)});
      add("weight_hh" + suffix, {gates_hidden, state});
      add("bias_ih" + suffix, {gates_hidden});
      if (options.cell == Cell::gru) add("bias_hh" + suffix, {gates_hidden});
      if (options.projection_size > 0) add("weight_hr" + suffix, {state, options.hidden_size});
      if (options.peephole) add("weight_peephole" + suffix, {3, options.hidden_size});
    }
  }
  return params;
}

int64_t recurrent_parameter_count(const RecurrentOptions& options) {
  const auto params = recurrent_parameters(options);
  return params.back().offset + params.back().size();
}

std::vector<std::string> recurrent_backends() {
  std::vector<std::string> names{"reference"};
#ifdef RNNLAB_HAVE_ONEDNN
  names.push_back("onednn");
#endif
#ifdef RNNLAB_WITH_CUDA
  names.push_back("cudnn");  // built; constructing it throws without a device
#endif
  return names;
}

Device backend_device(std::string_view backend) {
  return backend == "cudnn" || backend == "gpu" ? Device::cuda : Device::cpu;
}

std::unique_ptr<RecurrentStack> make_recurrent_stack(std::string_view backend, const RecurrentOptions& options,
                                                     Device device) {
  validate(options);
  if (backend == "gpu") backend = "cudnn";
  if (device == Device::cuda) {
#ifdef RNNLAB_WITH_CUDA
    if (backend == "cudnn") return make_cudnn_device_stack(options);  // layers/device_stack.h
#endif
    throw std::invalid_argument("recurrent backend '" + std::string(backend) +
                                "' cannot compute on cuda (only cudnn in a build with the GPU path does)");
  }
  // The CPU backends take per-sequence lengths through padded_stack.h; cuDNN has its own.
  if (backend == "reference")
    return make_padded_stack(options, [](const RecurrentOptions& o) { return make_reference_stack(o); });
#ifdef RNNLAB_HAVE_ONEDNN
  if (backend == "onednn")
    return make_padded_stack(options, [](const RecurrentOptions& o) { return make_onednn_stack(o); });
#endif
#ifdef RNNLAB_WITH_CUDA
  if (backend == "cudnn") return make_cudnn_stack(options);
#endif
  std::string built;
  for (const auto& name : recurrent_backends()) built += (built.empty() ? "" : ", ") + name;
  throw std::invalid_argument("unknown or unavailable recurrent backend '" + std::string(backend) +
                              "' (built: " + built + ")");
}

}  // namespace rnnlab::layers
