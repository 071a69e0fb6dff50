#include "tracking/history.h"

#include <cmath>
#include <stdexcept>

#include "tracking/detail/store_access.h"

namespace rnnlab::tracking {

History metric_history(Store& store, int64_t run_id, const std::string& key, size_t max_points) {
  if (max_points < 2) throw std::invalid_argument("history: points must be >= 2");
  detail::Database& db = detail::StoreAccess::database(store);
  History history;
  history.key = key;
  // The summary's count sizes the buckets without a pass over the points (it may run ahead
  // of the rows when steps were logged twice: the buckets are then a little smaller).
  detail::Statement count = db.prepare("SELECT count FROM metric_summary WHERE run_id = ? AND key = ?");
  count.bind(1, run_id).bind(2, key);
  const size_t total = count.step() ? static_cast<size_t>(count.column_int(0)) : 0;
  history.downsampled = total > max_points;
  // Bucket size in points: each bucket gives at most two.
  const size_t buckets = max_points / 2;
  const size_t per_bucket = history.downsampled ? (total + buckets - 1) / buckets : 1;
  history.steps.reserve(std::min(total, max_points));
  history.values.reserve(std::min(total, max_points));

  detail::Statement rows =
      db.prepare("SELECT step, value FROM metrics WHERE run_id = ? AND key = ? ORDER BY step");
  rows.bind(1, run_id).bind(2, key);
  struct Point {
    int64_t step = 0;
    double value = NAN;
  };
  Point first, low, high;  // of the current bucket; low/high over non-NaN values
  bool any_number = false;
  size_t in_bucket = 0;
  auto emit = [&](const Point& p) {
    history.steps.push_back(p.step);
    history.values.push_back(p.value);
  };
  auto close_bucket = [&]() {
    if (in_bucket == 0) return;
    if (!any_number) {
      emit(first);  // only NaN here: keep one so the gap shows
    } else if (low.step == high.step) {
      emit(low);
    } else {
      emit(low.step < high.step ? low : high);
      emit(low.step < high.step ? high : low);
    }
    in_bucket = 0;
    any_number = false;
  };
  while (rows.step()) {
    Point p{rows.column_int(0), rows.is_null(1) ? NAN : rows.column_double(1)};
    ++history.total;
    if (in_bucket == 0) first = p;
    if (!std::isnan(p.value)) {
      if (!any_number || p.value < low.value) low = p;
      if (!any_number || p.value > high.value) high = p;
      any_number = true;
    }
    if (++in_bucket == per_bucket) close_bucket();
  }
  close_bucket();
  history.downsampled = static_cast<size_t>(history.total) > history.steps.size();
  return history;
}

}  // namespace rnnlab::tracking
