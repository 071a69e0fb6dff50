// The rules between keys (listed for users in config_rules()) and "auto" resolution.
#include "trainer/config_check.h"

#include <algorithm>

#include "trainer/config_schema.h"

namespace rnnlab::trainer {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string join(const std::vector<std::string>& list, const char* separator = ", ") {
  std::string out;
  for (const std::string& item : list) out += (out.empty() ? "" : separator) + item;
  return out;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Formats a file may hold for each task.
std::vector<std::string> task_formats(const std::string& task) {
  if (task == "language_model") return {"text"};
  if (task == "classify") return {"tsv", "csv"};
  if (task == "tag") return {"tagged", "conll"};
  if (task == "forecast") return {"numeric_csv"};
  return {};  // adding, copy: generated
}

bool token_task(const std::string& task) {
  return task == "language_model" || task == "classify" || task == "tag" || task == "copy";
}

}  // namespace

void check_config_rules(Config& config, const ConfigLocator& where, std::vector<std::string>& errors) {
  // `key` is the one named in the message; `related` are the other keys of the rule.
  auto fail = [&](const std::string& key, const std::string& message,
                  std::vector<std::string> related = {}) {
    related.insert(related.begin(), key);
    errors.push_back(where(related) + "key '" + key + "': " + message);
  };
  DataConfig& data = config.data;
  const std::string& task = config.task;

  // Data set and format.
  const std::vector<std::string> datasets = task_datasets(task);
  if (data.dataset == "auto" && !datasets.empty()) data.dataset = datasets.front();
  if (data.dataset == "file") {
    const std::vector<std::string> formats = task_formats(task);
    if (formats.empty())
      fail("data.dataset", "task '" + task + "' generates its data and takes no file", {"task"});
    if (data.path.empty()) fail("data.path", "dataset 'file' needs data.path");
    if (data.format == "auto" && !formats.empty())
      data.format = task == "classify" && ends_with(data.path, ".csv") ? "csv" : formats.front();
    else if (!formats.empty() && !contains(formats, data.format))
      fail("data.format", "format '" + data.format + "' does not fit task '" + task + "' (use " +
                              join(formats, " or ") + ")",
           {"task", "data.dataset"});
  } else {
    if (!datasets.empty() && !contains(datasets, data.dataset))
      fail("data.dataset", "data set '" + data.dataset + "' does not fit task '" + task + "' (use " +
                               join(datasets, " or ") + ", or file)",
           {"task"});
    if (data.format != "auto")
      fail("data.format", "applies to dataset 'file' only (the built-in '" + data.dataset +
                              "' has its own format)",
           {"data.dataset"});
  }
  if (data.val_fraction + data.test_fraction >= 1.0)
    fail("data.test_fraction", "val_fraction + test_fraction must be < 1", {"data.val_fraction"});

  // Model.
  const ModelConfig& model = config.model;
  if (token_task(task) && model.embedding_size < 1)
    fail("model.embedding_size", "task '" + task + "' reads tokens and needs an embedding size >= 1",
         {"task"});
  if (model.init == "auto") config.model.init = task_init_scheme(task);
  // `gpu` is an alias of `cudnn`: everything after the check sees one name.
  if (model.backend == "gpu") config.model.backend = "cudnn";
  if (model.backend == "cudnn" && model.peephole)
    fail("model.peephole", "cuDNN has no peephole LSTM (use model.backend onednn or reference)", {"model.backend"});
  if (model.peephole && model.cell != "lstm")
    fail("model.peephole", "needs model.cell 'lstm' (got '" + model.cell + "')", {"model.cell"});
  if (model.projection_size > 0) {
    if (model.cell != "lstm")
      fail("model.projection_size", "needs model.cell 'lstm' (got '" + model.cell + "')", {"model.cell"});
    else if (model.projection_size >= model.hidden_size)
      fail("model.projection_size", "must be < model.hidden_size (" + std::to_string(model.hidden_size) + ")",
           {"model.hidden_size"});
  }

  // Training.
  TrainConfig& train = config.train;
  if (train.epochs == 0 && train.max_steps == 0)
    fail("train.epochs", "train.epochs or train.max_steps must be > 0", {"train.max_steps"});
  if (train.optimizer == "sgd" && train.nesterov && train.momentum <= 0)
    fail("train.nesterov", "Nesterov momentum needs train.momentum > 0", {"train.momentum", "train.optimizer"});
  if (train.schedule == "cosine" && train.min_lr > train.lr)
    fail("train.min_lr", "must be <= train.lr for the cosine schedule", {"train.lr", "train.schedule"});

  EarlyStoppingConfig& stopping = train.early_stopping;
  if (!stopping.metric.empty()) {
    const std::vector<std::string> metrics = task_metrics(task);
    // Bits per character at char level, per token at word level (what the objective logs).
    const bool wrong_level = (stopping.metric == "val_bpc" && data.level != "char") ||
                             (stopping.metric == "val_bits_per_token" && data.level != "word");
    if (!contains(metrics, stopping.metric) || wrong_level) {
      fail("train.early_stopping.metric",
           "task '" + task + "' does not report '" + stopping.metric + "'" +
               (wrong_level ? " at " + data.level + " level" : "") + " (choices: " + join(metrics) + ")",
           {"task", "data.level"});
    } else {
      const std::string natural = metric_higher_is_better(stopping.metric) ? "max" : "min";
      if (stopping.goal == "auto")
        stopping.goal = natural;
      else if (stopping.goal != natural)
        fail("train.early_stopping.goal", "'" + stopping.goal + "' contradicts metric '" +
                                              stopping.metric + "' (should be " + natural + ")",
             {"train.early_stopping.metric"});
    }
  } else if (stopping.restore_best) {
    fail("train.early_stopping.restore_best", "needs train.early_stopping.metric (the metric that picks the best)",
         {"train.early_stopping.metric"});
  }

  // Output.
  if (config.output.dir.empty()) fail("output.dir", "must not be empty");
  if (config.output.experiment.empty()) fail("output.experiment", "must not be empty");
}

std::string config_docs_markdown() {
  const Config defaults;
  std::string out =
      "# Configuration reference\n\n"
      "<!-- Generated by `rnnlab config --docs` from trainer/config_schema.cc; do not edit. -->\n\n"
      "A run is described by one YAML file; every key below is optional and has the default "
      "shown. Keys are nested by section:\n\n"
      "```yaml\ntask: language_model\nmodel:\n  cell: gru\n  hidden_size: 256\ntrain:\n  lr: 0.002\n"
      "  early_stopping:\n    metric: val_loss\n```\n\n"
      "Any key can be overridden on the command line with its dotted path and a YAML scalar, "
      "applied in order after the file: `rnnlab train cfg.yaml model.cell=gru train.lr=0.01`.\n\n"
      "Everything is checked before any work starts. An unknown key, a value of the wrong type, a "
      "value out of range or a broken rule is an error that names the file, the line and the "
      "key path (`cfg.yaml:7: key 'model.cell': unknown value 'lstn' (choices: rnn_tanh, "
      "rnn_relu, lstm, gru)`), or the override (`override 'model.cell=xyz': ...`). "
      "`rnnlab config CFG.yaml [overrides]` prints the resolved config.\n\n"
      "Types: `integer` (no fraction, no exponent), `number` (decimal or exponent form), "
      "`boolean` (true/false, yes/no, on/off), `string`, `choice` (one of the listed values).\n";
  std::string section = "-";
  for (const ConfigKey& key : config_schema()) {
    const size_t dot = key.key.rfind('.');
    const std::string key_section = dot == std::string::npos ? "" : key.key.substr(0, dot);
    if (key_section != section) {
      section = key_section;
      out += "\n## " + (section.empty() ? std::string("top level") : "`" + section + "`") + "\n\n";
      out += "| key | type | default | allowed | description |\n|---|---|---|---|---|\n";
    }
    std::string allowed = config_range_text(key);
    if (key.type == ConfigType::choice) {
      for (const std::string& option : key.choices)
        allowed += (allowed.empty() ? "" : ", ") + ("`" + option + "`");
    }
    const std::string value = format_config_value(key.get(defaults));
    out += "| `" + key.key + "` | " + std::string(config_type_name(key.type)) + " | " +
           (value.empty() ? std::string("\"\"") : "`" + value + "`") + " | " + allowed + " | " +
           key.doc + " |\n";
  }
  out += "\n## Rules between keys\n\n";
  for (const std::string& rule : config_rules()) out += "- " + rule + "\n";
  return out;
}

}  // namespace rnnlab::trainer
