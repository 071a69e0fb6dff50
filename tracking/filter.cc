// Hand-written lexer and recursive-descent parser for the run filter language (filter.h).
// The parser emits SQL directly: each field becomes a correlated sub-select on the run `r`
// whose key is a bound parameter, each literal a bound parameter. Only the fixed texts in
// this file (operators, column names of the whitelist below) ever become SQL text.
#include "tracking/filter.h"

#include "tracking/detail/filter_lexer.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <stdexcept>

namespace rnnlab::tracking {
namespace {

using detail::fail;
using detail::lex;
using detail::lower;
using detail::Tok;
using detail::Token;

// Attributes: name -> (SQL over r/e, numeric?). A fixed whitelist: the only identifiers
// that reach SQL text.
const std::map<std::string, std::pair<const char*, bool>>& attributes() {
  static const std::map<std::string, std::pair<const char*, bool>> table = {
      {"id", {"r.id", true}},
      {"name", {"r.name", false}},
      {"status", {"r.status", false}},
      {"experiment", {"e.name", false}},
      {"start_time", {"r.start_time", true}},
      {"end_time", {"r.end_time", true}},
      {"duration", {"(COALESCE(r.end_time, r.heartbeat_at) - r.start_time)", true}},
      {"host", {"r.host", false}},
      {"ranks", {"r.ranks", true}},
      {"backend", {"r.backend", false}},
      {"rnnlab_version", {"r.rnnlab_version", false}},
      {"git_commit", {"r.git_commit", false}},
      {"error", {"r.error", false}},
  };
  return table;
}

const char* metric_column(const std::string& variant) {
  if (variant == "min") return "min_value";
  if (variant == "max") return "max_value";
  if (variant == "count") return "count";
  return "last_value";
}

std::string resolve_variant(std::string variant, const FilterContext& context) {
  if (variant.empty()) variant = context.metric_value == MetricValue::best ? "best" : "last";
  if (variant == "best") variant = context.goal == Goal::minimize ? "min" : "max";
  return variant;
}

// Builds a FieldRef from the dot-separated names of a field token.
FieldRef make_field(const std::vector<std::string>& parts, std::string_view source,
                    size_t position) {
  if (parts.size() < 2) {
    fail(source, position,
         "expected a field such as params.KEY, metrics.KEY, tags.KEY or run.ATTRIBUTE, got '" +
             (parts.empty() ? std::string() : parts[0]) + "'");
  }
  FieldRef field;
  std::string prefix = lower(parts[0]);
  auto join = [&](size_t from, size_t to) {
    std::string key;
    for (size_t i = from; i < to; ++i) key += (i > from ? "." : "") + parts[i];
    return key;
  };
  if (prefix == "params" || prefix == "param") {
    field.kind = "params";
    field.key = join(1, parts.size());
  } else if (prefix == "metrics" || prefix == "metric") {
    field.kind = "metrics";
    size_t end = parts.size();
    static const char* variants[] = {"last", "best", "min", "max", "count"};
    std::string last = lower(parts.back());
    if (parts.size() > 2 &&
        std::find(std::begin(variants), std::end(variants), last) != std::end(variants)) {
      field.variant = last;
      --end;
    }
    field.key = join(1, end);
  } else if (prefix == "tags" || prefix == "tag") {
    field.kind = "tags";
    field.key = join(1, parts.size());
  } else if (prefix == "attributes" || prefix == "attribute" || prefix == "run") {
    field.kind = "attributes";
    field.key = lower(join(1, parts.size()));
    if (!attributes().count(field.key)) {
      std::string names;
      for (const auto& [name, unused] : attributes()) names += (names.empty() ? "" : ", ") + name;
      fail(source, position, "unknown run attribute '" + field.key + "' (choices: " + names + ")");
    }
  } else {
    fail(source, position,
         "unknown field prefix '" + parts[0] + "' (use params., metrics., tags. or run.)");
  }
  field.text = field.kind + "." + field.key + (field.variant.empty() ? "" : "." + field.variant);
  return field;
}

// What a field reads. `as_number`: the numeric view of a param (value_num) instead of text.
std::string field_sql(const FieldRef& field, bool as_number, const FilterContext& context) {
  if (field.kind == "params") {
    return as_number ? "(SELECT value_num FROM params WHERE run_id = r.id AND key = ?)"
                     : "(SELECT value_text FROM params WHERE run_id = r.id AND key = ?)";
  }
  if (field.kind == "metrics") {
    return std::string("(SELECT ") + metric_column(resolve_variant(field.variant, context)) +
           " FROM metric_summary WHERE run_id = r.id AND key = ?)";
  }
  if (field.kind == "tags") return "(SELECT value FROM tags WHERE run_id = r.id AND key = ?)";
  return attributes().at(field.key).first;
}

bool field_binds_key(const FieldRef& field) { return field.kind != "attributes"; }

bool field_is_numeric(const FieldRef& field) {
  if (field.kind == "metrics") return true;
  if (field.kind == "attributes") return attributes().at(field.key).second;
  return false;  // tags are text; params are both
}

class Parser {
 public:
  Parser(std::string_view source, const FilterContext& context)
      : source_(source), context_(context), tokens_(lex(source)) {}

  SqlFragment parse_filter() {
    SqlFragment out;
    if (peek().type != Tok::end) {
      out.sql = "(" + or_expr() + ")";  // the store appends it after an AND
      expect_end();
    }
    out.binds = std::move(binds_);
    out.fields = std::move(fields_);
    return out;
  }

  SqlFragment parse_order() {
    SqlFragment out;
    while (peek().type != Tok::end) {
      FieldRef field = take_field();
      std::string direction = " ASC";
      if (is_word("asc")) { next(); } else if (is_word("desc")) { next(); direction = " DESC"; }
      // A param sorts numbers numerically first, then the text of the others.
      if (!out.sql.empty()) out.sql += ", ";
      if (field.kind == "params") {
        add_key(field);
        out.sql += field_sql(field, true, context_) + direction + " NULLS LAST, ";
      }
      add_key(field);
      out.sql += field_sql(field, false, context_) + direction + " NULLS LAST";
      if (peek().type == Tok::comma) {
        next();
        if (peek().type == Tok::end) fail(source_, peek().position, "expected a field after ','");
        continue;
      }
      expect_end();
    }
    out.binds = std::move(binds_);
    out.fields = std::move(fields_);
    return out;
  }

 private:
  const Token& peek() const { return tokens_[index_]; }
  const Token& next() { return tokens_[index_++]; }
  bool is_word(std::string_view keyword) const {
    return peek().type == Tok::word && lower(peek().text) == keyword;
  }
  void expect_end() {
    if (peek().type != Tok::end) {
      fail(source_, peek().position,
           "unexpected '" + peek().text + "' (expected 'and', 'or' or the end)");
    }
  }

  // SQL nests as little as the filter does, because SQLite's parser has a fixed stack (it
  // failed with "parser stack overflow" at about 100 chained terms when each step was
  // parenthesised): `a and b and c` is one flat chain, AND and OR rely on SQL's own
  // precedence (the same as the filter's), NOT takes its operand bare, and only the
  // filter's own parentheses (and each comparison) become SQL parentheses.
  std::string or_expr() { return chain("or", " OR ", &Parser::and_expr); }
  std::string and_expr() { return chain("and", " AND ", &Parser::unary); }

  std::string chain(std::string_view keyword, const char* sql_operator, std::string (Parser::*term)()) {
    std::string sql = (this->*term)();
    while (is_word(keyword)) {
      next();
      sql += sql_operator + (this->*term)();
    }
    return sql;
  }

  // Each 'not' and '(' is one level of recursion; a bound keeps a hostile filter from
  // exhausting the stack (`((((...` used to end in SIGSEGV).
  struct Nesting {
    explicit Nesting(Parser& parser) : depth(++parser.depth_) {
      if (depth > kMaxFilterNesting) {
        fail(parser.source_, parser.peek().position,
             "nesting deeper than " + std::to_string(kMaxFilterNesting) + " levels");
      }
    }
    ~Nesting() { --depth; }
    int& depth;
  };

  std::string unary() {
    if (is_word("not")) {
      Nesting level(*this);
      next();
      return "NOT " + unary();
    }
    if (peek().type == Tok::lparen) {
      Nesting level(*this);
      next();
      std::string sql = or_expr();
      if (peek().type != Tok::rparen) fail(source_, peek().position, "expected ')'");
      next();
      return "(" + sql + ")";
    }
    return comparison();
  }

  FieldRef take_field() {
    const Token& token = peek();
    if (token.type == Tok::end) fail(source_, token.position, "expected a field, got the end");
    if (token.type != Tok::field && token.type != Tok::word) {
      fail(source_, token.position, "expected a field, got '" + token.text + "'");
    }
    next();
    FieldRef field = make_field(token.parts, source_, token.position);
    if (std::none_of(fields_.begin(), fields_.end(),
                     [&](const FieldRef& f) { return f.text == field.text; })) {
      fields_.push_back(field);
    }
    return field;
  }

  void add_key(const FieldRef& field) {
    if (field_binds_key(field)) binds_.push_back(field.key);
  }

  struct Literal {
    enum Kind { number, text, boolean } kind;
    SqlValue value;
    size_t position;
  };

  Literal take_literal() {
    const Token& token = peek();
    if (token.type == Tok::number) {
      next();
      const std::string& t = token.text;
      bool integral = t.find_first_of(".eE") == std::string::npos;
      if (integral) {
        errno = 0;
        long long v = std::strtoll(t.c_str(), nullptr, 10);
        if (errno == 0) return {Literal::number, static_cast<int64_t>(v), token.position};
      }
      return {Literal::number, std::strtod(t.c_str(), nullptr), token.position};
    }
    if (token.type == Tok::string) {
      next();
      return {Literal::text, token.text, token.position};
    }
    if (is_word("true") || is_word("false")) {
      next();
      return {Literal::boolean, lower(token.text), token.position};
    }
    if (token.type == Tok::end) fail(source_, token.position, "expected a value, got the end");
    fail(source_, token.position,
         "expected a value (number, 'string', true or false), got '" + token.text + "'");
  }

  // The SQL that reads `field` for comparing with `literal`; checks the types agree.
  std::string operand(const FieldRef& field, const Literal& literal) {
    bool as_number = literal.kind == Literal::number;
    if (field.kind == "params") {
      add_key(field);
      return field_sql(field, as_number, context_);
    }
    if (field_is_numeric(field) && !as_number) {
      fail(source_, literal.position, field.text + " is a number: compare it with a number");
    }
    if (!field_is_numeric(field) && as_number) {
      fail(source_, literal.position, field.text + " is text: quote the value");
    }
    add_key(field);
    return field_sql(field, false, context_);
  }

  std::string comparison() {
    FieldRef field = take_field();
    const Token& op = peek();
    if (op.type == Tok::op) {
      next();
      Literal literal = take_literal();
      std::string sql_op = op.text == "==" ? "=" : op.text == "!=" ? "<>" : op.text;
      std::string sql = "(" + operand(field, literal) + " " + sql_op + " ?)";
      binds_.push_back(literal.value);
      return sql;
    }
    bool negated = false;
    if (is_word("not")) { next(); negated = true; }
    if (is_word("in")) {
      next();
      if (peek().type != Tok::lparen) fail(source_, peek().position, "expected '(' after 'in'");
      next();
      std::vector<Literal> values{take_literal()};
      while (peek().type == Tok::comma) {
        next();
        values.push_back(take_literal());
        if (values.back().kind != values.front().kind) {
          fail(source_, values.back().position, "mixed numbers and text in one 'in' list");
        }
      }
      if (peek().type != Tok::rparen) fail(source_, peek().position, "expected ',' or ')'");
      next();
      std::string sql = "(" + operand(field, values.front()) + (negated ? " NOT IN (" : " IN (");
      for (size_t i = 0; i < values.size(); ++i) {
        sql += i ? ", ?" : "?";
        binds_.push_back(values[i].value);
      }
      return sql + "))";
    }
    if (is_word("like") || is_word("ilike")) {
      bool insensitive = is_word("ilike");
      next();
      Literal pattern = take_literal();
      if (pattern.kind != Literal::text) fail(source_, pattern.position, "like needs a 'pattern'");
      if (field_is_numeric(field)) fail(source_, op.position, field.text + " is a number: like needs text");
      add_key(field);
      std::string column = field_sql(field, false, context_);
      binds_.push_back(pattern.value);
      // LIKE in SQLite ignores ASCII case unless PRAGMA case_sensitive_like is on; the
      // store turns it on for its connections, so LIKE is exact and ILIKE lowers both.
      std::string sql = insensitive ? "(lower(" + column + ") LIKE lower(?))"
                                    : "(" + column + " LIKE ?)";
      return negated ? "(NOT " + sql + ")" : sql;
    }
    if (negated) fail(source_, peek().position, "expected 'in', 'like' or 'ilike' after 'not'");
    if (is_word("is")) {
      next();
      bool is_not = false;
      if (is_word("not")) { next(); is_not = true; }
      if (!is_word("null")) fail(source_, peek().position, "expected 'null'");
      next();
      add_key(field);
      return "(" + field_sql(field, false, context_) + (is_not ? " IS NOT NULL)" : " IS NULL)");
    }
    if (op.type == Tok::end) {
      fail(source_, op.position, "expected an operator after " + field.text + ", got the end");
    }
    fail(source_, op.position,
         "expected an operator (=, !=, <, <=, >, >=, in, like, ilike, is) after " + field.text +
             ", got '" + op.text + "'");
  }

  std::string_view source_;
  FilterContext context_;
  std::vector<Token> tokens_;
  size_t index_ = 0;
  int depth_ = 0;  // open 'not's and '('s
  std::vector<SqlValue> binds_;
  std::vector<FieldRef> fields_;
};

}  // namespace

MetricValue parse_metric_value(std::string_view text) {
  std::string t = lower(text);
  if (t == "last") return MetricValue::last;
  if (t == "best") return MetricValue::best;
  throw std::invalid_argument("metric value: unknown choice '" + std::string(text) +
                              "' (choices: best, last)");
}

SqlFragment compile_filter(std::string_view filter, const FilterContext& context) {
  return Parser(filter, context).parse_filter();
}

SqlFragment compile_order_by(std::string_view order, const FilterContext& context) {
  return Parser(order, context).parse_order();
}

FieldRef parse_field(std::string_view text) {
  std::vector<Token> tokens = lex(text);
  if (tokens.size() != 2 || (tokens[0].type != Tok::field && tokens[0].type != Tok::word)) {
    fail(text, tokens.size() > 1 ? tokens[1].position : 0, "expected one field name");
  }
  return make_field(tokens[0].parts, text, 0);
}

SqlFragment field_expression(const FieldRef& field, const FilterContext& context) {
  SqlFragment out;
  if (field.kind == "params") {
    // Numbers as numbers (for JSON output), everything else as its text.
    out.sql = "(SELECT COALESCE(value_num, value_text) FROM params WHERE run_id = r.id AND key = ?)";
  } else {
    out.sql = field_sql(field, false, context);
  }
  if (field_binds_key(field)) out.binds.push_back(field.key);
  out.fields.push_back(field);
  return out;
}

}  // namespace rnnlab::tracking
