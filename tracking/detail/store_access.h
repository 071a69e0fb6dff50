// Internal to tracking: the SQLite connection behind a Store, for tracking's own .cc files
// (history.cc reads the metrics table directly) and its tests (raw SQL on a fixture). Code
// outside tracking/ asks Store's public questions instead.
#pragma once

#include "tracking/detail/sqlite_db.h"
#include "tracking/store.h"

namespace rnnlab::tracking::detail {

class StoreAccess {
 public:
  static Database& database(Store& store) { return store.database(); }
};

}  // namespace rnnlab::tracking::detail
