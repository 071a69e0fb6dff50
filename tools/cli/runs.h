// Internal to the `rnnlab runs` command (runs*.cc): output tables in three formats, the
// plot and the benchmark. The query logic lives in tracking/store.h; these files only
// parse options and print.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rnnlab::tracking {
class Store;
struct RunDetails;
}  // namespace rnnlab::tracking

namespace rnnlab::cli::runs {

enum class Format { table, csv, json };
Format parse_format(const std::string& text);  // invalid_argument naming --format

// Cells are JSON values so that JSON output keeps numbers as numbers; the table and CSV
// forms print numbers with 6 significant digits and null as "-" (table) or "" (CSV).
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<nlohmann::json>> rows;
};

// table: aligned columns (numbers right-aligned) under a header and a rule;
// csv: RFC 4180 with a header line; json: an array of objects keyed by column.
// header_rows (table format only): lines printed above the column names, one string per
// column (blank cells for a label that spans the columns to its right).
void print(const Table& table, Format format, std::ostream& out,
           const std::vector<std::vector<std::string>>& header_rows = {});
std::string cell_text(const nlohmann::json& cell);
std::string format_time(double unix_seconds);  // "2026-11-22 05:24:18" (UTC)

// Everything the `runs` subcommands accept; each uses the part it needs.
struct Options {
  std::string db;               // --db, default $RNNLAB_DB or ./rnnlab.db
  std::string format = "table";
  std::string experiment, where, order_by;
  std::string goal;             // min|max; empty: by the metric's name (tracking::metric_goal)
  std::string value;            // best|last; empty: the subcommand's default
  int64_t limit = 0;
  std::vector<std::string> columns, refs, rows, cols, remove;
  std::string metric;
  bool all = false, history = false, yes = false, force = false;
  std::string output;
  // Set: query this open store (the server's read-only connection) instead of opening db.
  tracking::Store* store = nullptr;
};

// The store a subcommand works on: options.store, else options.db opened for the call.
class OpenStore {
 public:
  explicit OpenStore(const Options& options);
  ~OpenStore();
  tracking::Store& operator*() { return *store_; }

 private:
  std::unique_ptr<tracking::Store> owned_;
  tracking::Store* store_;
};

// The subcommands; each prints to `out` and returns the exit code.
int list(const Options& options, std::ostream& out);
int show(const Options& options, std::ostream& out);
int compare(const Options& options, std::ostream& out);
int best(const Options& options, std::ostream& out);
int pivot(const Options& options, std::ostream& out);
int export_runs(const Options& options, std::ostream& out);
int delete_runs(const Options& options, std::ostream& out);
int tag(const Options& options, std::ostream& out);

// The params of `runs` that differ between them (every param with `all`), in key order over
// the union of their keys: values[i] is runs[i]'s (null when it lacks the key; numbers as
// numbers). `runs compare` prints them; `runs plot` labels its curves with them.
struct ParamValues {
  std::string key;
  std::vector<nlohmann::json> values;
};
std::vector<ParamValues> differing_params(const std::vector<tracking::RunDetails>& runs, bool all = false);

// A metric no run (of `experiment`, when given) has logged is std::invalid_argument saying
// so and listing the metrics that exist, instead of an empty table.
void require_metric(tracking::Store& store, const std::string& metric, const std::string& experiment);

struct PlotRequest {
  std::vector<std::string> run_refs;
  std::vector<std::string> metrics;
  std::string output;  // .png or .svg
  std::string title;
  bool log_y = false;
};
// Curves are labelled curve_labels(runs).
void plot(const std::string& db_path, const PlotRequest& request);
// "lstm, layers=2, bidirectional (#14)": what sets each run apart from the others
// (differing_params): strings by their value, true flags by their name, numbers as
// key=value, leaving out output.*; a run that differs in nothing goes by its name.
std::vector<std::string> curve_labels(const std::vector<tracking::RunDetails>& runs);

struct BenchRequest {
  std::string db_path;  // the large database (generated when missing or regenerate)
  int64_t runs = 10000;
  int64_t steps = 1000;
  int repeat = 7;
  bool regenerate = false;
  bool queries_only = false;  // skip the logging throughput part
};
void bench(const BenchRequest& request, std::ostream& out);

}  // namespace rnnlab::cli::runs
