// Expanding a sweep into trials: grid (cartesian product) or seeded random draws.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <stdexcept>

#include "experiments/sweep.h"
#include "trainer/config.h"

namespace rnnlab::experiments {
namespace {

// 64-bit FNV-1a: tiny, stable across platforms and compilers (std::hash is neither).
uint64_t fnv1a(const std::string& text, uint64_t hash = 0xcbf29ce484222325ULL) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// A double in [0, 1) from 53 random bits: the same on every standard library
// (std::uniform_real_distribution is not specified bit for bit).
double unit(std::mt19937_64& rng) { return double(rng() >> 11) * (1.0 / 9007199254740992.0); }

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string draw(const Parameter& parameter, std::mt19937_64& rng) {
  const double u = unit(rng);
  if (parameter.distribution.empty()) {
    size_t index = std::min(parameter.values.size() - 1, size_t(u * double(parameter.values.size())));
    return parameter.values[index];
  }
  if (parameter.distribution == "uniform") return number_text(parameter.min + u * (parameter.max - parameter.min));
  if (parameter.distribution == "log_uniform") {
    const double low = std::log(parameter.min), high = std::log(parameter.max);
    return number_text(std::clamp(std::exp(low + u * (high - low)), parameter.min, parameter.max));
  }
  // int_uniform: every integer of [min, max] equally likely.
  const int64_t low = int64_t(parameter.min), count = int64_t(parameter.max) - low + 1;
  return std::to_string(low + std::min(count - 1, int64_t(u * double(count))));
}

}  // namespace

std::string trial_id(const std::vector<std::string>& parameter_overrides, int repeat) {
  std::vector<std::string> sorted = parameter_overrides;
  std::sort(sorted.begin(), sorted.end());
  uint64_t hash = fnv1a("rnnlab-trial-v1");
  for (const std::string& override_text : sorted) hash = fnv1a(override_text + '\n', hash);
  hash = fnv1a("repeat=" + std::to_string(repeat), hash);
  // FNV's last bytes barely reach the high bits: mix (splitmix64's finalizer) so ids of
  // neighbouring trials differ everywhere, not in one digit.
  hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ULL;
  hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return std::string(text, 12);
}

std::vector<Trial> expand_trials(const SweepSpec& spec) {
  std::vector<std::vector<std::string>> points;  // parameter overrides of each point
  if (spec.method == "grid") {
    for (const Parameter& parameter : spec.parameters)
      if (parameter.values.empty())
        throw std::invalid_argument(spec.path + ":" + std::to_string(parameter.line) + ": parameter '" +
                                    parameter.key + "': method grid needs values (a distribution has no grid)");
    points.push_back({});
    for (const Parameter& parameter : spec.parameters) {
      std::vector<std::vector<std::string>> next;
      for (const auto& point : points) {
        for (const std::string& value : parameter.values) {
          next.push_back(point);
          next.back().push_back(parameter.key + "=" + value);
        }
      }
      points = std::move(next);
    }
  } else if (spec.method == "random") {
    std::mt19937_64 rng(spec.seed);
    for (int i = 0; i < spec.max_trials; ++i) {
      std::vector<std::string> point;
      for (const Parameter& parameter : spec.parameters) point.push_back(parameter.key + "=" + draw(parameter, rng));
      points.push_back(std::move(point));
    }
  } else {
    throw std::invalid_argument(spec.path + ": method '" + spec.method + "': expected grid or random");
  }

  // Repeats vary the seed around the base config's own.
  const uint64_t base_seed = trainer::parse_config(spec.base_yaml, spec.base_source).train.seed;
  const bool seed_swept = std::any_of(spec.parameters.begin(), spec.parameters.end(),
                                      [](const Parameter& p) { return p.key == "train.seed"; });
  std::vector<Trial> trials;
  std::map<std::string, int> seen;  // random draws may repeat a point: keep ids unique
  for (size_t p = 0; p < points.size(); ++p) {
    for (int repeat = 0; repeat < spec.repeats; ++repeat) {
      Trial trial;
      trial.index = int(trials.size());
      trial.point = int(p);
      trial.repeat = repeat;
      trial.overrides = points[p];
      trial.id = trial_id(points[p], repeat);
      if (int copies = seen[trial.id]++; copies > 0) {
        std::vector<std::string> distinct = points[p];
        distinct.push_back("#duplicate=" + std::to_string(copies));
        trial.id = trial_id(distinct, repeat);
      }
      if (!seed_swept) trial.overrides.push_back("train.seed=" + std::to_string(base_seed + uint64_t(repeat)));
      trials.push_back(std::move(trial));
    }
  }
  return trials;
}

}  // namespace rnnlab::experiments
