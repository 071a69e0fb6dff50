// Learning-rate schedules as a pure function of the step: lr(step) depends on nothing
// else, so a resumed run, every data-parallel rank and a plot all agree without state.
//
//   step s is 0-based: the learning rate used by the (s+1)-th optimizer step.
//   warm-up (s < warmup_steps):  lr * (s + 1) / warmup_steps   (linear, never 0)
//   after it, with t = s - warmup_steps:
//     constant: lr
//     step:     lr * gamma ^ floor(t / step_size)
//     cosine:   min_lr + (lr - min_lr) * (1 + cos(pi * t / D)) / 2, D = total_steps -
//               warmup_steps, and min_lr once t >= D (torch's CosineAnnealingLR closed form)
//
// Failure: `validate(ScheduleOptions)` and `learning_rate` throw std::invalid_argument
// naming the field (unknown kind, lr <= 0, cosine without total_steps, ...).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnlab::trainer {

struct TrainConfig;

struct ScheduleOptions {
  std::string kind = "constant";  // constant | step | cosine
  double lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t step_size = 1000;  // step
  double gamma = 0.5;        // step
  double min_lr = 0.0;       // cosine floor
  int64_t total_steps = 0;   // cosine: steps of the whole run, warm-up included
};

// `total_steps` is what the trainer computes (max_steps, or epochs * batches per epoch).
ScheduleOptions schedule_options(const TrainConfig& train, int64_t total_steps);
void validate(const ScheduleOptions& options);
double learning_rate(const ScheduleOptions& options, int64_t step);
std::vector<std::string> schedule_names();  // constant, cosine, step

}  // namespace rnnlab::trainer
