#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "tools/cli/runs.h"
#include "tracking/store.h"

namespace rnnlab::cli::runs {

OpenStore::OpenStore(const Options& options) : store_(options.store) {
  if (!store_) {
    owned_ = std::make_unique<tracking::Store>(options.db);
    store_ = owned_.get();
  }
}

OpenStore::~OpenStore() = default;

Format parse_format(const std::string& text) {
  if (text == "table") return Format::table;
  if (text == "csv") return Format::csv;
  if (text == "json") return Format::json;
  throw std::invalid_argument("--format: unknown format '" + text + "' (choices: table, csv, json)");
}

std::string cell_text(const nlohmann::json& cell) {
  if (cell.is_null()) return "";
  if (cell.is_string()) return cell.get<std::string>();
  if (cell.is_number_integer()) return std::to_string(cell.get<int64_t>());
  if (cell.is_number()) {
    double value = cell.get<double>();
    if (std::isnan(value)) return "nan";
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    return buffer;
  }
  if (cell.is_boolean()) return cell.get<bool>() ? "true" : "false";
  return cell.dump();
}

std::string format_time(double unix_seconds) {
  std::time_t seconds = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &utc);
  return buffer;
}

namespace {

std::string csv_quote(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Display width: count UTF-8 code points, not bytes ("±" is one column).
size_t width(const std::string& text) {
  size_t columns = 0;
  for (unsigned char c : text) columns += (c & 0xC0) != 0x80;
  return columns;
}

}  // namespace

void print(const Table& table, Format format, std::ostream& out,
           const std::vector<std::vector<std::string>>& header_rows) {
  if (format == Format::json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : table.rows) {
      nlohmann::json object = nlohmann::json::object();
      for (size_t i = 0; i < table.columns.size() && i < row.size(); ++i) {
        const nlohmann::json& cell = row[i];
        // JSON has no NaN: write null.
        object[table.columns[i]] =
            cell.is_number_float() && !std::isfinite(cell.get<double>()) ? nlohmann::json() : cell;
      }
      rows.push_back(std::move(object));
    }
    out << rows.dump(2) << "\n";
    return;
  }
  if (format == Format::csv) {
    for (size_t i = 0; i < table.columns.size(); ++i) out << (i ? "," : "") << csv_quote(table.columns[i]);
    out << "\n";
    for (const auto& row : table.rows) {
      for (size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << csv_quote(cell_text(row[i]));
      out << "\n";
    }
    return;
  }
  std::vector<size_t> widths(table.columns.size());
  std::vector<std::vector<std::string>> texts;
  for (size_t i = 0; i < table.columns.size(); ++i) widths[i] = width(table.columns[i]);
  std::vector<std::vector<std::string>> headers;
  for (const auto& header : header_rows) {
    std::vector<std::string> line(widths.size());
    for (size_t i = 0; i < header.size() && i < widths.size(); ++i) {
      line[i] = header[i];
      widths[i] = std::max(widths[i], width(line[i]));
    }
    headers.push_back(std::move(line));
  }
  for (const auto& row : table.rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      line.push_back(row[i].is_null() ? "-" : cell_text(row[i]));
      widths[i] = std::max(widths[i], width(line.back()));
    }
    texts.push_back(std::move(line));
  }
  auto emit = [&](const std::vector<std::string>& line, const std::vector<nlohmann::json>* row) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      const bool right = row && (*row)[i].is_number();
      const std::string pad(widths[i] - width(line[i]), ' ');
      text += (i ? "  " : "") + (right ? pad + line[i] : line[i] + (i + 1 < line.size() ? pad : ""));
    }
    text.erase(text.find_last_not_of(' ') + 1);  // a header line may end in blank cells
    out << text << "\n";
  };
  for (const auto& line : headers) emit(line, nullptr);
  emit(table.columns, nullptr);
  std::string rule;
  for (size_t i = 0; i < widths.size(); ++i) rule += (i ? "  " : "") + std::string(widths[i], '-');
  out << rule << "\n";
  for (size_t r = 0; r < texts.size(); ++r) emit(texts[r], &table.rows[r]);
}

}  // namespace rnnlab::cli::runs
