#include "trainer/schedule.h"

#include <cmath>
#include <stdexcept>

#include "trainer/config.h"

namespace rnnlab::trainer {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("learning-rate schedule: " + message);
}

constexpr double kPi = 3.14159265358979323846;

}  // namespace

ScheduleOptions schedule_options(const TrainConfig& train, int64_t total_steps) {
  ScheduleOptions options;
  options.kind = train.schedule;
  options.lr = train.lr;
  options.warmup_steps = train.warmup_steps;
  options.step_size = train.step_size;
  options.gamma = train.gamma;
  options.min_lr = train.min_lr;
  options.total_steps = total_steps;
  return options;
}

std::vector<std::string> schedule_names() { return {"constant", "cosine", "step"}; }

void validate(const ScheduleOptions& options) {
  require(options.kind == "constant" || options.kind == "step" || options.kind == "cosine",
          "unknown schedule '" + options.kind + "' (choices: constant, step, cosine)");
  require(options.lr > 0 && std::isfinite(options.lr), "lr must be > 0");
  require(options.warmup_steps >= 0, "warmup_steps must be >= 0");
  if (options.kind == "step") {
    require(options.step_size >= 1, "step_size must be >= 1");
    require(options.gamma > 0 && options.gamma <= 1, "gamma must be in (0, 1]");
  }
  if (options.kind == "cosine") {
    require(options.min_lr >= 0 && options.min_lr <= options.lr, "min_lr must be in [0, lr]");
    require(options.total_steps > options.warmup_steps,
            "cosine needs total_steps (" + std::to_string(options.total_steps) +
                ") > warmup_steps (" + std::to_string(options.warmup_steps) + ")");
  }
}

double learning_rate(const ScheduleOptions& options, int64_t step) {
  validate(options);
  require(step >= 0, "step must be >= 0, got " + std::to_string(step));
  if (step < options.warmup_steps)
    return options.lr * double(step + 1) / double(options.warmup_steps);
  const int64_t t = step - options.warmup_steps;
  if (options.kind == "step") return options.lr * std::pow(options.gamma, double(t / options.step_size));
  if (options.kind == "cosine") {
    const int64_t decay_steps = options.total_steps - options.warmup_steps;
    if (t >= decay_steps) return options.min_lr;
    const double progress = double(t) / double(decay_steps);
    return options.min_lr + (options.lr - options.min_lr) * 0.5 * (1.0 + std::cos(kPi * progress));
  }
  return options.lr;
}

}  // namespace rnnlab::trainer
