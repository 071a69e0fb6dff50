// The run filter language of `rnnlab runs list --where/--order-by` and of the query API
// (store.h), compiled into an SQL fragment with every value AND every key bound as a
// parameter, so no text of a filter ever becomes SQL text.
//
//   filter     := or_expr
//   or_expr    := and_expr ('or' and_expr)*
//   and_expr   := unary ('and' unary)*
//   unary      := 'not' unary | '(' or_expr ')' | comparison
//   comparison := field op literal            op: = == != <> < <= > >=
//              |  field ['not'] 'in' '(' literal (',' literal)* ')'
//              |  field ['not'] ('like' | 'ilike') string
//              |  field 'is' ['not'] 'null'
//   field      := 'params.' key | 'metrics.' key ['.' ('last'|'best'|'min'|'max'|'count')]
//              |  'tags.' key | ('attributes.' | 'run.') attribute
//   key        := name ('.' name)*   (a name in backticks may hold any character but `)
//   literal    := number | 'string' | "string" | true | false
//
// Keywords are case-insensitive. A param compares as a number against a number literal
// (params.model.layers >= 2 is numeric: 10 > 9) and as text against a string literal.
// metrics.K means metrics.K.last unless FilterContext::metric_value says best; .best is
// the minimum or the maximum by FilterContext::goal. LIKE is case-sensitive, ILIKE is not.
// Attributes: id, name, status, experiment, start_time, end_time, duration, host, ranks,
// backend, rnnlab_version, git_commit, error.
//
// The SQL refers to the run as `r` (table runs) and its experiment as `e` (experiments).
// A malformed filter throws std::invalid_argument whose message shows the filter, a caret
// under the offending token and its 1-based column; so does one nesting 'not' and '(' more
// than kMaxFilterNesting deep ("nesting deeper than 12 levels"). The bound is SQLite's:
// its parser has a fixed stack of 100 entries, which `(a or b and (...))` 16 deep fills
// ("parser stack overflow"); 12 levels of any mix of 'not', 'and', 'or' and '(' fit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tracking/vocabulary.h"  // Goal, parse_goal

namespace rnnlab::tracking {

// A value bound to an SQL parameter (NULL, integer, real or text).
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

constexpr int kMaxFilterNesting = 12;

enum class MetricValue { last, best };

MetricValue parse_metric_value(std::string_view text);  // "last"/"best"

struct FilterContext {
  Goal goal = Goal::minimize;                  // what .best means
  MetricValue metric_value = MetricValue::last;  // what metrics.K means without a suffix
};

// A field a filter refers to, for showing it as a column next to the runs it selected.
struct FieldRef {
  std::string text;     // canonical spelling, e.g. "metrics.val_loss.best"
  std::string kind;     // "params", "metrics", "tags" or "attributes"
  std::string key;      // "val_loss", "model.cell", "status"
  std::string variant;  // metrics: "last", "min", "max", "count"; else empty
};

struct SqlFragment {
  std::string sql;              // e.g. "((SELECT ...) < ?)"; empty for an empty filter
  std::vector<SqlValue> binds;  // in the order of the ?s in sql
  std::vector<FieldRef> fields; // every field mentioned, first mention first, no repeats
};

// `where`: a boolean filter; an empty or all-blank filter gives an empty fragment.
SqlFragment compile_filter(std::string_view filter, const FilterContext& context = {});

// `order`: field ['asc'|'desc'] (',' field ['asc'|'desc'])*; gives the list that follows
// ORDER BY (missing values last in both directions).
SqlFragment compile_order_by(std::string_view order, const FilterContext& context = {});

// The SQL expression and binds that read one field of run `r` (used by list columns).
SqlFragment field_expression(const FieldRef& field, const FilterContext& context = {});

// Parses one field name ("params.model.cell", "metrics.loss.best", "run.status").
FieldRef parse_field(std::string_view text);

}  // namespace rnnlab::tracking
