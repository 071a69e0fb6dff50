// Reading a sweep file: YAML -> SweepSpec, every key checked before anything runs.
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "experiments/sweep.h"
#include "tracking/vocabulary.h"
#include "trainer/config.h"
#include "trainer/yaml_nesting.h"

namespace rnnlab::experiments {
namespace {

namespace fs = std::filesystem;

// The sweep sets these itself for every trial; a sweep that varies them would break the
// bookkeeping (where a trial writes, which run it is).
const std::set<std::string> kReservedKeys = {"output.dir", "output.tracker", "output.experiment",
                                             "output.run_name"};

std::string in_quotes(const std::string& text) { return "'" + text + "'"; }

std::string kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    case YAML::NodeType::Null: return "nothing";
    default: return "an undefined value";
  }
}

// Collects every problem (one per line) and throws them together at the end.
class Reader {
 public:
  Reader(std::string source, std::string text) : source_(std::move(source)), text_(std::move(text)) {}

  SweepSpec read() {
    trainer::check_yaml_nesting(text_, source_);
    YAML::Node root;
    try {
      root = YAML::Load(text_);
    } catch (const YAML::ParserException& error) {
      throw std::invalid_argument(source_ + ":" + std::to_string(error.mark.line + 1) + ": invalid YAML: " + error.msg);
    }
    spec_.path = source_;
    if (!root.IsMap()) fail(root, "", "a sweep file is a mapping (name, base, parameters, ...), got " + kind_of(root));
    else read_root(root);
    if (base_ok_) check_parameters();
    if (!errors_.empty()) {
      std::string message;
      for (const auto& error : errors_) message += (message.empty() ? "" : "\n") + error;
      throw std::invalid_argument(message);
    }
    return spec_;
  }

 private:
  std::string at(const YAML::Node& node) const {
    return source_ + ":" + std::to_string(node.Mark().line + 1) + ": ";
  }
  void fail(const YAML::Node& node, const std::string& key, const std::string& what) {
    errors_.push_back(at(node) + (key.empty() ? "" : "key " + in_quotes(key) + ": ") + what);
  }

  // Calls handlers[name] for every key of a mapping; unknown keys are errors.
  void for_keys(const YAML::Node& map, const std::string& prefix,
                const std::map<std::string, std::function<void(const YAML::Node&, const std::string&)>>& handlers) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string name = it->first.IsScalar() ? it->first.Scalar() : "?";
      const std::string key = prefix.empty() ? name : prefix + "." + name;
      auto handler = handlers.find(name);
      if (handler == handlers.end()) {
        std::string choices;
        for (const auto& [known, unused] : handlers) choices += (choices.empty() ? "" : ", ") + known;
        fail(it->first, key, "unknown key (expected one of: " + choices + ")");
        continue;
      }
      handler->second(it->second, key);
    }
  }

  template <typename T>
  bool scalar(const YAML::Node& node, const std::string& key, T& out, const char* expected) {
    if (!node.IsScalar()) {
      fail(node, key, std::string("expected ") + expected + ", got " + kind_of(node));
      return false;
    }
    try {
      out = node.as<T>();
      return true;
    } catch (const YAML::Exception&) {
      fail(node, key, std::string("expected ") + expected + ", got " + kind_of(node));
      return false;
    }
  }
  void choice(const YAML::Node& node, const std::string& key, std::string& out, const std::set<std::string>& choices) {
    std::string value;
    if (!scalar(node, key, value, "a string")) return;
    if (!choices.count(value)) {
      std::string list;
      for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
      fail(node, key, "unknown value " + in_quotes(value) + " (choices: " + list + ")");
      return;
    }
    out = value;
  }
  template <typename T>
  void at_least(const YAML::Node& node, const std::string& key, T& out, T minimum) {
    T value{};
    if (!scalar(node, key, value, "an integer")) return;
    if (value < minimum) fail(node, key, "must be at least " + std::to_string(minimum));
    else out = value;
  }

  std::string resolve(const std::string& path) const {
    if (path.empty() || fs::path(path).is_absolute()) return path;
    const fs::path folder = fs::path(source_).parent_path();
    return (folder / path).lexically_normal().string();
  }

  void read_root(const YAML::Node& root) {
    bool have_base = false, have_parameters = false;
    for_keys(root, "", {
        {"name", [&](auto& n, auto& k) {
           if (!scalar(n, k, spec_.name, "a name")) return;
           for (char c : spec_.name)
             if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
               return fail(n, k, "use only letters, digits, '_', '-' and '.' (it names runs and folders)");
           if (spec_.name.empty()) fail(n, k, "must not be empty");
         }},
        {"description", [&](auto&, auto&) {}},
        {"base", [&](auto& n, auto& k) { have_base = true; read_base(n, k); }},
        {"parameters", [&](auto& n, auto& k) { have_parameters = true; read_parameters(n, k); }},
        {"method", [&](auto& n, auto& k) { choice(n, k, spec_.method, {"grid", "random"}); }},
        {"max_trials", [&](auto& n, auto& k) { at_least(n, k, spec_.max_trials, 1); }},
        {"seed", [&](auto& n, auto& k) { scalar(n, k, spec_.seed, "a non-negative integer"); }},
        {"repeats", [&](auto& n, auto& k) { at_least(n, k, spec_.repeats, 1); }},
        {"metric", [&](auto& n, auto& k) { read_metric(n, k); }},
        {"launch", [&](auto& n, auto& k) { read_launch(n, k); }},
        {"pruning", [&](auto& n, auto& k) { read_pruning(n, k); }},
        {"tracker", [&](auto& n, auto& k) { scalar(n, k, spec_.tracker, "a database path"); }},
        {"experiment", [&](auto& n, auto& k) { scalar(n, k, spec_.experiment, "a name"); }},
        {"output_dir", [&](auto& n, auto& k) { scalar(n, k, spec_.output_dir, "a folder"); }},
        {"table", [&](auto& n, auto& k) { read_table(n, k); }},
    });
    auto missing = [&](const char* key, const char* what) {
      errors_.push_back(source_ + ":1: key " + in_quotes(key) + ": missing (" + what + ")");
    };
    if (spec_.name.empty() && !root["name"]) missing("name", "names the sweep's runs and folder");
    if (!have_base) missing("base", "the training config: a mapping, or the path of a config file");
    if (!have_parameters) missing("parameters", "the keys to vary");
    if (spec_.method == "random" && spec_.max_trials == 0)
      missing("max_trials", "method random draws this many trials");
    if (spec_.method == "grid" && root["max_trials"])
      fail(root["max_trials"], "max_trials", "only for method random (grid runs every combination)");
    const YAML::Node metric = root["metric"];
    if (!(metric && metric.IsMap() && metric["goal"]))
      spec_.goal = tracking::metric_goal(spec_.metric) == tracking::Goal::maximize ? "maximize" : "minimize";
    if (spec_.experiment.empty()) spec_.experiment = spec_.name;
    if (spec_.output_dir.empty()) spec_.output_dir = "sweeps/" + spec_.name;
    if (spec_.tracker.empty()) spec_.tracker = "rnnlab.db";
    if (spec_.launch.mode == "in_process" && spec_.launch.parallel > 1 && root["launch"])
      fail(root["launch"], "launch.parallel",
           "in_process runs one trial at a time (threads share OpenMP settings); use mode: process for parallel trials");
    if (spec_.launch.mode != "mpirun" && spec_.launch.mode != "slurm" && spec_.launch.ranks > 1 && root["launch"])
      fail(root["launch"], "launch.ranks", "needs mode: mpirun or slurm");
  }

  void read_base(const YAML::Node& node, const std::string& key) {
    if (node.IsScalar()) {
      const std::string path = resolve(node.Scalar());
      std::ifstream file(path, std::ios::binary);
      if (!file) return fail(node, key, "cannot open base config " + in_quotes(path));
      std::ostringstream text;
      text << file.rdbuf();
      spec_.base_yaml = text.str();
      spec_.base_source = path;
    } else if (node.IsMap()) {
      spec_.base_yaml = inline_block(node);
      spec_.base_source = source_;
    } else {
      return fail(node, key, "expected a config mapping or a config file path, got " + kind_of(node));
    }
    try {
      trainer::parse_config(spec_.base_yaml, spec_.base_source);
      base_ok_ = true;
    } catch (const std::invalid_argument& error) {
      errors_.push_back(error.what());
    }
  }

  // The inline base config as text whose line numbers are the sweep file's: the block's
  // own lines, dedented, after as many empty lines as precede it. A config error then
  // names the line a user sees in the sweep file.
  std::string inline_block(const YAML::Node& node) const {
    if (node.Style() == YAML::EmitterStyle::Flow) {
      YAML::Emitter emitter;
      emitter << node;
      return emitter.c_str();
    }
    std::vector<std::string> lines;
    std::istringstream in(text_);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    const size_t first = size_t(node.Mark().line);
    const size_t indent = size_t(node.Mark().column);
    std::string block(first, '\n');
    for (size_t i = first; i < lines.size(); ++i) {
      const std::string& line = lines[i];
      const size_t text_start = line.find_first_not_of(' ');
      const bool blank = text_start == std::string::npos || line[text_start] == '#';
      if (!blank && text_start < indent) break;  // the next key of the sweep file
      block += (line.size() >= indent ? line.substr(indent) : std::string()) + "\n";
    }
    return block;
  }

  void read_parameters(const YAML::Node& node, const std::string& key) {
    if (!node.IsMap() || node.size() == 0)
      return fail(node, key, "expected a mapping of dotted config keys to {values: [...]} or a distribution");
    for (auto it = node.begin(); it != node.end(); ++it) {
      Parameter parameter;
      parameter.key = it->first.Scalar();
      parameter.line = it->first.Mark().line + 1;
      const std::string where = key + "." + parameter.key;
      // A copy (a cheap handle): it->second lives in a proxy that dies with the expression.
      const YAML::Node body = it->second;
      if (kReservedKeys.count(parameter.key)) {
        fail(it->first, where, "set by the sweep for every trial; it cannot be varied");
        continue;
      }
      for (const auto& seen : spec_.parameters)
        if (seen.key == parameter.key) fail(it->first, where, "duplicate parameter");
      if (!body.IsMap()) {
        fail(body, where, "expected {values: [...]} or {distribution: ..., min: ..., max: ...}, got " + kind_of(body));
        continue;
      }
      bool have_min = false, have_max = false;
      for_keys(body, where, {
          {"values", [&](auto& n, auto& k) {
             if (!n.IsSequence()) return fail(n, k, "expected a list, got " + kind_of(n));
             if (n.size() == 0) return fail(n, k, "empty list: give at least one value");
             for (size_t i = 0; i < n.size(); ++i) {
               if (!n[i].IsScalar())
                 fail(n[i], k + "[" + std::to_string(i) + "]", "expected a single value, got " + kind_of(n[i]));
               else
                 parameter.values.push_back(n[i].Scalar());
             }
           }},
          {"value", [&](auto& n, auto& k) {
             if (!n.IsScalar()) return fail(n, k, "expected a single value, got " + kind_of(n));
             parameter.values.push_back(n.Scalar());
           }},
          {"distribution", [&](auto& n, auto& k) {
             choice(n, k, parameter.distribution, {"uniform", "log_uniform", "int_uniform"});
           }},
          {"min", [&](auto& n, auto& k) { have_min = scalar(n, k, parameter.min, "a number"); }},
          {"max", [&](auto& n, auto& k) { have_max = scalar(n, k, parameter.max, "a number"); }},
      });
      const bool has_values = body["values"] || body["value"];
      if (!parameter.distribution.empty()) {
        if (has_values) fail(body, where, "give either values or a distribution, not both");
        if (!have_min || !have_max) fail(body, where, "distribution " + parameter.distribution + " needs min and max");
        else if (!(parameter.min < parameter.max)) fail(body, where, "min must be below max");
        else if (parameter.distribution == "log_uniform" && parameter.min <= 0)
          fail(body, where, "log_uniform needs min > 0 (it draws on a log scale)");
        else if (parameter.distribution == "int_uniform" &&
                 (parameter.min != std::floor(parameter.min) || parameter.max != std::floor(parameter.max)))
          fail(body, where, "int_uniform needs integer min and max");
      } else if (!has_values) {
        if (!body["distribution"]) fail(body, where, "give values: [...] or distribution with min and max");
      } else if (have_min || have_max) {
        fail(body, where, "min/max belong to a distribution; values lists them all");
      }
      spec_.parameters.push_back(parameter);
    }
  }

  void read_metric(const YAML::Node& node, const std::string& key) {
    if (node.IsScalar()) {
      spec_.metric = node.Scalar();
      return;
    }
    if (!node.IsMap()) return fail(node, key, "expected {name: val_loss, goal: minimize}, got " + kind_of(node));
    for_keys(node, key, {
        {"name", [&](auto& n, auto& k) { scalar(n, k, spec_.metric, "a metric key"); }},
        {"goal", [&](auto& n, auto& k) { choice(n, k, spec_.goal, {"minimize", "maximize"}); }},
    });
  }

  void read_launch(const YAML::Node& node, const std::string& key) {
    if (!node.IsMap()) return fail(node, key, "expected a mapping (mode, ranks, hostfile, parallel), got " + kind_of(node));
    LaunchSpec& launch = spec_.launch;
    SlurmSpec& slurm = launch.slurm;
    auto strings = [&](const YAML::Node& n, const std::string& k, std::vector<std::string>& out, const char* what) {
      if (!n.IsSequence()) return fail(n, k, std::string("expected a list of ") + what + ", got " + kind_of(n));
      out.clear();
      for (const auto& arg : n) {
        if (!arg.IsScalar()) return fail(arg, k, std::string("expected a list of ") + what + ", got " + kind_of(arg));
        out.push_back(arg.Scalar());
      }
    };
    for_keys(node, key, {
        {"mode", [&](auto& n, auto& k) { choice(n, k, launch.mode, {"in_process", "process", "mpirun", "slurm"}); }},
        {"ranks", [&](auto& n, auto& k) { at_least(n, k, launch.ranks, 1); }},
        {"hostfile", [&](auto& n, auto& k) {
           if (scalar(n, k, launch.hostfile, "a file path")) {
             launch.hostfile = resolve(launch.hostfile);
             if (!fs::exists(launch.hostfile)) fail(n, k, "no such hostfile " + in_quotes(launch.hostfile));
           }
         }},
        {"parallel", [&](auto& n, auto& k) { at_least(n, k, launch.parallel, 1); }},
        {"rnnlab", [&](auto& n, auto& k) { scalar(n, k, launch.rnnlab, "the rnnlab binary's path"); }},
        {"mpirun_args", [&](auto& n, auto& k) { strings(n, k, launch.mpirun_args, "mpirun arguments"); }},
        // launch.mode slurm (docs/distributed.md lists the sbatch flag of each).
        {"nodes", [&](auto& n, auto& k) { slurm_key(n, k); at_least(n, k, slurm.nodes, 1); }},
        {"cpus_per_rank", [&](auto& n, auto& k) { slurm_key(n, k); at_least(n, k, slurm.cpus_per_rank, 1); }},
        {"gpus_per_rank", [&](auto& n, auto& k) { slurm_key(n, k); at_least(n, k, slurm.gpus_per_rank, 0); }},
        {"time", [&](auto& n, auto& k) {
           slurm_key(n, k);
           if (scalar(n, k, slurm.time, "a time limit") && !valid_slurm_time(slurm.time))
             fail(n, k, "expected a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS), got " +
                            in_quotes(slurm.time));
         }},
        {"partition", [&](auto& n, auto& k) { slurm_key(n, k); scalar(n, k, slurm.partition, "a partition name"); }},
        {"account", [&](auto& n, auto& k) { slurm_key(n, k); scalar(n, k, slurm.account, "an account name"); }},
        {"qos", [&](auto& n, auto& k) { slurm_key(n, k); scalar(n, k, slurm.qos, "a QOS name"); }},
        {"sbatch_args", [&](auto& n, auto& k) { slurm_key(n, k); strings(n, k, slurm.sbatch_args, "sbatch options"); }},
        {"srun_args", [&](auto& n, auto& k) { slurm_key(n, k); strings(n, k, slurm.srun_args, "srun options"); }},
        {"signal_seconds", [&](auto& n, auto& k) { slurm_key(n, k); at_least(n, k, slurm.signal_seconds, 0); }},
        {"requeue", [&](auto& n, auto& k) { slurm_key(n, k); scalar(n, k, slurm.requeue, "true or false"); }},
        {"ranks_via", [&](auto& n, auto& k) { slurm_key(n, k); choice(n, k, slurm.ranks_via, {"srun", "mpirun"}); }},
        {"poll_seconds", [&](auto& n, auto& k) {
           slurm_key(n, k);
           if (scalar(n, k, slurm.poll_seconds, "a number of seconds") && !(slurm.poll_seconds > 0))
             fail(n, k, "must be above 0");
         }},
    });
    if (launch.mode != "slurm")
      for (const auto& [name, where] : slurm_keys_) fail(where, name, "needs mode: slurm");
    else if (node["hostfile"])
      fail(node["hostfile"], key + ".hostfile", "mode slurm takes its hosts from the allocation; a hostfile is for mode mpirun");
    if (launch.mode == "slurm" && slurm.nodes > launch.ranks && node["nodes"])
      fail(node["nodes"], key + ".nodes", "more nodes (" + std::to_string(slurm.nodes) + ") than ranks (" +
                                             std::to_string(launch.ranks) + "): every node runs at least one rank");
  }

  // Notes a key that only mode slurm takes (checked once the mode is known).
  void slurm_key(const YAML::Node& node, const std::string& key) { slurm_keys_.emplace_back(key, node); }

  // Slurm's --time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
  static bool valid_slurm_time(const std::string& text) {
    auto digits = [](const std::string& part) {
      return !part.empty() && part.size() <= 6 && part.find_first_not_of("0123456789") == std::string::npos;
    };
    std::string rest = text;
    const size_t dash = rest.find('-');
    if (dash != std::string::npos) {
      if (!digits(rest.substr(0, dash))) return false;
      rest = rest.substr(dash + 1);
    }
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      const size_t colon = rest.find(':', start);
      parts.push_back(rest.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    for (const auto& part : parts)
      if (!digits(part)) return false;
    return parts.size() <= 3;
  }

  void read_pruning(const YAML::Node& node, const std::string& key) {
    if (!node.IsMap()) return fail(node, key, "expected a mapping (method, ...), got " + kind_of(node));
    PruningSpec& pruning = spec_.pruning;
    for_keys(node, key, {
        {"method", [&](auto& n, auto& k) { choice(n, k, pruning.method, {"none", "median", "asha"}); }},
        {"warmup_evaluations", [&](auto& n, auto& k) { at_least(n, k, pruning.warmup_evaluations, 0); }},
        {"min_trials", [&](auto& n, auto& k) { at_least(n, k, pruning.min_trials, 1); }},
        {"min_step", [&](auto& n, auto& k) { at_least<int64_t>(n, k, pruning.min_step, 1); }},
        {"reduction_factor", [&](auto& n, auto& k) { at_least(n, k, pruning.reduction_factor, 2); }},
        {"min_early_stopping_rate", [&](auto& n, auto& k) { at_least(n, k, pruning.min_early_stopping_rate, 0); }},
    });
  }

  void read_table(const YAML::Node& node, const std::string& key) {
    if (!node.IsMap()) return fail(node, key, "expected {rows: [...], cols: [...]}, got " + kind_of(node));
    auto keys = [&](const YAML::Node& n, const std::string& k, std::vector<std::string>& out) {
      if (n.IsScalar()) return out.push_back(n.Scalar());
      if (!n.IsSequence()) return fail(n, k, "expected a list of config keys, got " + kind_of(n));
      for (const auto& item : n) out.push_back(item.Scalar());
    };
    for_keys(node, key, {
        {"rows", [&](auto& n, auto& k) { keys(n, k, spec_.table_rows); }},
        {"cols", [&](auto& n, auto& k) { keys(n, k, spec_.table_cols); }},
    });
  }

  // Every value (and both ends of every distribution) applied to the base config through
  // the config schema: unknown keys, wrong types and bad choices surface here, before any
  // trial starts, at the line of the sweep file that declared them.
  void check_parameters() {
    for (const Parameter& parameter : spec_.parameters) {
      if (spec_.method == "grid" && !parameter.distribution.empty())
        errors_.push_back(source_ + ":" + std::to_string(parameter.line) + ": parameter " + in_quotes(parameter.key) +
                          ": method grid needs values (a distribution has no grid; use method: random)");
      if (parameter.key == "train.seed" && spec_.repeats > 1)
        errors_.push_back(source_ + ":" + std::to_string(parameter.line) + ": key 'parameters.train.seed': "
                          "repeats already vary train.seed; vary one or the other");
      std::vector<std::string> candidates = parameter.values;
      if (!parameter.distribution.empty()) {
        candidates.clear();
        for (double end : {parameter.min, parameter.max}) {
          std::ostringstream text;
          text.precision(17);
          text << end;
          candidates.push_back(parameter.distribution == "int_uniform" ? std::to_string(int64_t(end)) : text.str());
        }
      }
      for (const std::string& value : candidates) {
        try {
          trainer::parse_config(spec_.base_yaml, spec_.base_source, {parameter.key + "=" + value});
        } catch (const std::invalid_argument& error) {
          // The config loader says "override 'k=v': key 'k': problem"; keep the problem.
          std::string problem = error.what();
          const std::string prefix = "override '" + parameter.key + "=" + value + "': ";
          if (problem.rfind(prefix, 0) == 0) problem = problem.substr(prefix.size());
          errors_.push_back(source_ + ":" + std::to_string(parameter.line) + ": parameter " + in_quotes(parameter.key) +
                            " value " + in_quotes(value) + ": " + problem);
        }
      }
    }
  }

  std::string source_;
  std::string text_;
  SweepSpec spec_;
  std::vector<std::string> errors_;
  std::vector<std::pair<std::string, YAML::Node>> slurm_keys_;  // launch keys only mode slurm takes
  bool base_ok_ = false;  // parameters are checked against a base that loads
};

}  // namespace

SweepSpec parse_sweep(const std::string& yaml_text, const std::string& source_name) {
  return Reader(source_name, yaml_text).read();
}

SweepSpec load_sweep(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::invalid_argument("sweep file '" + path + "': cannot open (missing or unreadable)");
  std::ostringstream text;
  text << file.rdbuf();
  return parse_sweep(text.str(), path);
}

}  // namespace rnnlab::experiments
