// `rnnlab runs plot`: learning curves drawn by gnuplot (Debian's gnuplot-nox). The data go
// to gnuplot inline as datablocks through a pipe, so nothing is written but the image.
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "tools/cli/runs.h"
#include "tracking/store.h"

namespace rnnlab::cli::runs {
namespace {

// A gnuplot single-quoted string: a quote is doubled, nothing else is special.
std::string gnuplot_string(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

// What sets each run apart (runs.h); where the run wrote (output.*) says nothing of it.
std::vector<std::string> curve_labels(const std::vector<tracking::RunDetails>& runs) {
  std::vector<std::string> labels(runs.size());
  for (const ParamValues& param : differing_params(runs)) {
    if (param.key.rfind("output.", 0) == 0) continue;
    const std::string name = param.key.substr(param.key.rfind('.') + 1);
    for (size_t i = 0; i < runs.size(); ++i) {
      const nlohmann::json& value = param.values[i];
      std::string part;
      if (value.is_string() && (value == "true" || value == "false")) part = value == "true" ? name : "";
      else if (value.is_string()) part = value.get<std::string>();
      else if (!value.is_null()) part = name + "=" + cell_text(value);
      if (!part.empty()) labels[i] += (labels[i].empty() ? "" : ", ") + part;
    }
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    if (labels[i].empty()) labels[i] = runs[i].run.name;
    labels[i] += " (#" + std::to_string(runs[i].run.id) + ")";
  }
  return labels;
}

void plot(const std::string& db_path, const PlotRequest& request) {
  if (request.run_refs.empty()) throw std::invalid_argument("plot: give one or more RUNs");
  if (request.metrics.empty()) throw std::invalid_argument("plot: --metric is required");
  std::string terminal;
  if (ends_with(request.output, ".png")) {
    terminal = "pngcairo size 1100,650 enhanced font 'DejaVu Sans,11' linewidth 1.5";
  } else if (ends_with(request.output, ".svg")) {
    terminal = "svg size 1100,650 dynamic enhanced font 'DejaVu Sans,11' linewidth 1.5";
  } else {
    throw std::invalid_argument("plot: -o must name a .png or .svg file, got '" + request.output + "'");
  }
  tracking::Store store(db_path);
  std::vector<int64_t> ids = store.resolve_runs(request.run_refs);
  std::vector<tracking::RunDetails> runs;
  for (int64_t id : ids) runs.push_back(store.run_details(id));
  const std::vector<std::string> labels = curve_labels(runs);

  std::ostringstream script;
  std::vector<std::string> series;
  int block = 0;
  int run_index = 0;
  for (int64_t id : ids) {
    ++run_index;
    for (size_t metric_index = 0; metric_index < request.metrics.size(); ++metric_index) {
      const std::string& metric = request.metrics[metric_index];
      std::vector<tracking::MetricPoint> points = store.metric_history(id, metric);
      if (points.empty()) continue;
      script << "$d" << block << " << EOD\n";
      for (const auto& point : points) {
        if (std::isnan(point.value)) script << point.step << " NaN\n";
        else {
          char value[32];
          std::snprintf(value, sizeof value, "%.9g", point.value);  // small losses keep digits
          script << point.step << " " << value << "\n";
        }
      }
      script << "EOD\n";
      std::string title = labels[size_t(run_index - 1)];
      if (request.metrics.size() > 1) title += " " + metric;
      // One colour per run, one dash pattern per metric.
      series.push_back("$d" + std::to_string(block) + " using 1:2 with lines lt " +
                       std::to_string((run_index - 1) % 10 + 1) + " dt " +
                       std::to_string(metric_index % 5 + 1) + " title " + gnuplot_string(title));
      ++block;
    }
  }
  if (series.empty()) {
    throw std::invalid_argument("plot: none of the runs logged " +
                                std::string(request.metrics.size() == 1 ? "metric '" + request.metrics[0] + "'"
                                                                        : "those metrics"));
  }
  std::string metrics_label;
  for (size_t i = 0; i < request.metrics.size(); ++i) metrics_label += (i ? ", " : "") + request.metrics[i];
  script << "set terminal " << terminal << "\n"
         << "set output " << gnuplot_string(request.output) << "\n"
         << "set termoption noenhanced\n"  // run names with '_' are not subscripts
         << "set title " << gnuplot_string(request.title.empty() ? metrics_label : request.title) << "\n"
         << "set xlabel 'step'\nset ylabel " << gnuplot_string(metrics_label) << "\n"
         << "set grid lc rgb '#d0d0d0' dt 3\nset key outside right top box opaque\n"
         << "set border 3\nset tics nomirror\n"
         << (request.log_y ? "set logscale y\n" : "");
  // Tableau 10: distinguishable colours, none too pale on white.
  const char* colours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  for (int i = 0; i < 10; ++i) {
    script << "set linetype " << i + 1 << " lc rgb '" << colours[i] << "' lw 2\n";
  }
  script
         << "plot ";
  for (size_t i = 0; i < series.size(); ++i) script << (i ? ", \\\n     " : "") << series[i];
  script << "\nset output\n";

  FILE* gnuplot = ::popen("gnuplot 2>&1", "w");
  if (!gnuplot) throw std::runtime_error("plot: cannot start gnuplot (install gnuplot-nox)");
  const std::string text = script.str();
  std::fwrite(text.data(), 1, text.size(), gnuplot);
  const int status = ::pclose(gnuplot);
  if (status != 0) {
    throw std::runtime_error("plot: gnuplot failed (exit status " + std::to_string(status) +
                             ") writing '" + request.output + "'");
  }
}

}  // namespace rnnlab::cli::runs
