// Internal to `rnnlab serve`: the read side of the JSON API, without the HTTP library (so
// it can be called and tested as a function). Each answer is what the `rnnlab runs`
// subcommand of that name prints with --format json, computed by the same function on a
// read-only connection (docs/tracking.md lists the paths and parameters).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rnnlab::tracking {
class Store;
}

namespace rnnlab::cli {

struct ApiReply {
  int status = 200;
  std::string body;  // JSON; errors are {"error": message}
};

using ApiQuery = std::multimap<std::string, std::string>;

class ReadApi {
 public:
  // Opens one read-only connection at once, so that a missing, non-SQLite or newer-schema
  // database fails here (the exception names the file).
  explicit ReadApi(std::string db_path);
  ~ReadApi();

  // path: "/api/v1/runs", "/api/v1/runs/12", ...; never throws (errors become 4xx/5xx).
  ApiReply get(const std::string& path, const ApiQuery& query);

 private:
  ApiReply answer(const std::string& path, const ApiQuery& query, tracking::Store& store);
  std::unique_ptr<tracking::Store> acquire();
  void release(std::unique_ptr<tracking::Store> store);

  // A curve's downsampled form, reused while its summary (count, last step, wall time) is
  // unchanged: a finished run's long curve is read once, not on every view.
  std::string cached_history(tracking::Store& store, int64_t run_id, const std::string& key, size_t points);

  std::string db_path_;
  std::mutex mutex_;
  struct CachedHistory {
    std::string version, json;
  };
  std::map<std::string, CachedHistory> history_cache_;  // "run/key/points"; cleared when full
  std::vector<std::unique_ptr<tracking::Store>> idle_;  // one connection per concurrent request
};

}  // namespace rnnlab::cli
