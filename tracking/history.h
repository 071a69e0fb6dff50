// Metric histories for charts: a run's curve read in one pass and, when longer than
// max_points, cut to buckets of consecutive steps of which each keeps its minimum and its
// maximum (in step order), so a spike survives however long the curve is. Used by
// `rnnlab serve` (docs/tracking.md, GET /api/v1/runs/ID/history).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tracking/store.h"

namespace rnnlab::tracking {

struct History {
  std::string key;
  int64_t total = 0;           // points logged
  bool downsampled = false;
  std::vector<int64_t> steps;  // ascending
  std::vector<double> values;  // NaN where the logged value was NaN (SQL NULL)
};

// max_points >= 2 (invalid_argument otherwise); a run or key without points gives an
// empty history.
History metric_history(Store& store, int64_t run_id, const std::string& key, size_t max_points);

}  // namespace rnnlab::tracking
