// The run filter language (tracking/filter.h): --where, --order-by and field names.
#include "tests/fuzz/fuzz_input.h"
#include "tracking/filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rnnlab;
  const std::string input = fuzz::text(data, size);
  fuzz::expect_answer([&] {
    tracking::SqlFragment where = tracking::compile_filter(input);
    // The SQL must carry one bind per '?' (the store would bind garbage otherwise).
    size_t marks = 0;
    for (char c : where.sql) marks += c == '?';
    if (marks != where.binds.size()) __builtin_trap();
  });
  fuzz::expect_answer([&] {
    tracking::FilterContext best{tracking::Goal::maximize, tracking::MetricValue::best};
    tracking::compile_order_by(input, best);
  });
  fuzz::expect_answer([&] { tracking::field_expression(tracking::parse_field(input)); });
  return 0;
}
