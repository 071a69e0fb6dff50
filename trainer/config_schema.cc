// The schema table (one entry per key), the task tables, and docs/config.md from both.
#include "trainer/config_schema.h"

#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "trainer/optim.h"
#include "trainer/schedule.h"

namespace rnnlab::trainer {
namespace {

// Field <-> ConfigValue. Integers travel as int64_t and numbers as double so that a sweep
// or the tracker compares them numerically; `set` narrows after the schema bounds check.
ConfigValue to_value(bool value) { return value; }
ConfigValue to_value(int value) { return int64_t(value); }
ConfigValue to_value(int64_t value) { return value; }
ConfigValue to_value(uint64_t value) { return int64_t(value); }  // bounded to int64 below
ConfigValue to_value(double value) { return value; }
ConfigValue to_value(const std::string& value) { return value; }
void from_value(const ConfigValue& value, bool& field) { field = std::get<bool>(value); }
void from_value(const ConfigValue& value, int& field) { field = int(std::get<int64_t>(value)); }
void from_value(const ConfigValue& value, int64_t& field) { field = std::get<int64_t>(value); }
void from_value(const ConfigValue& value, uint64_t& field) { field = uint64_t(std::get<int64_t>(value)); }
void from_value(const ConfigValue& value, double& field) { field = std::get<double>(value); }
void from_value(const ConfigValue& value, std::string& field) { field = std::get<std::string>(value); }

#define RNNLAB_FIELD(member)                                             \
  [](const Config& config) { return to_value(config.member); },         \
      [](Config& config, const ConfigValue& value) { from_value(value, config.member); }

using Getter = std::function<ConfigValue(const Config&)>;
using Setter = std::function<void(Config&, const ConfigValue&)>;

ConfigKey make(std::string key, ConfigType type, std::string doc, Getter get, Setter set) {
  ConfigKey entry;
  entry.key = std::move(key);
  entry.type = type;
  entry.doc = std::move(doc);
  entry.get = std::move(get);
  entry.set = std::move(set);
  return entry;
}
ConfigKey boolean(std::string key, std::string doc, Getter get, Setter set) {
  return make(std::move(key), ConfigType::boolean, std::move(doc), std::move(get), std::move(set));
}
ConfigKey text(std::string key, std::string doc, Getter get, Setter set) {
  return make(std::move(key), ConfigType::string, std::move(doc), std::move(get), std::move(set));
}
ConfigKey choice(std::string key, std::vector<std::string> choices, std::string doc, Getter get,
                 Setter set) {
  ConfigKey entry = make(std::move(key), ConfigType::choice, std::move(doc), std::move(get), std::move(set));
  entry.choices = std::move(choices);
  return entry;
}
// Integers fit the field: [min, INT_MAX] for int fields, [min, INT64_MAX] for the 64-bit ones.
ConfigKey integer(std::string key, double min, double max, std::string doc, Getter get, Setter set) {
  ConfigKey entry = make(std::move(key), ConfigType::integer, std::move(doc), std::move(get), std::move(set));
  entry.has_min = entry.has_max = true;
  entry.min = min;
  entry.max = max;
  return entry;
}
ConfigKey number(std::string key, std::string doc, Getter get, Setter set) {
  return make(std::move(key), ConfigType::number, std::move(doc), std::move(get), std::move(set));
}
ConfigKey ge(ConfigKey entry, double min) { entry.has_min = true; entry.min = min; return entry; }
ConfigKey gt(ConfigKey entry, double min) { entry = ge(std::move(entry), min); entry.min_exclusive = true; return entry; }
ConfigKey le(ConfigKey entry, double max) { entry.has_max = true; entry.max = max; return entry; }
ConfigKey lt(ConfigKey entry, double max) { entry = le(std::move(entry), max); entry.max_exclusive = true; return entry; }

constexpr double kIntMax = INT_MAX;
constexpr double kInt64Max = 9223372036854775807.0;  // rounds to 2^63; bounds check handles it

std::vector<ConfigKey> build_schema() {
  std::vector<ConfigKey> s;
  s.push_back(choice("task", {"language_model", "classify", "tag", "forecast", "adding", "copy"},
                     "What to learn: next token, one label per sequence, one label per token, "
                     "next values of a series, or the adding / copy memory problems",
                     RNNLAB_FIELD(task)));

  s.push_back(choice("data.dataset",
                     {"auto", "moby_dick", "sotu", "pang_lee", "wsj_pos", "oanc_pos", "wsj_names", "oanc_names",
                      "sunspots", "co2", "adding", "copy", "file"},
                     "Built-in data set (`rnnlab data fetch NAME`) or `file` for your own; `auto` "
                     "resolves to the task's default (see the rules below)",
                     RNNLAB_FIELD(data.dataset)));
  s.push_back(text("data.path",
                   "Your data file (dataset=file), or another location for a built-in data set's file",
                   RNNLAB_FIELD(data.path)));
  s.push_back(choice("data.format", {"auto", "text", "tsv", "csv", "tagged", "conll", "numeric_csv"},
                     "dataset=file only: plain text, `label<TAB>text`, `label,text` CSV, `word/TAG` "
                     "lines, CoNLL `word TAG` columns with blank lines between sentences, numeric CSV "
                     "columns; `auto` resolves from the task",
                     RNNLAB_FIELD(data.format)));
  s.push_back(choice("data.scheme", {"auto", "none", "bio", "iobes"},
                     "tag: span tags (B-/I-/O, or with E-/S-), checked and counted as spans; `none` for "
                     "plain tags such as POS; `auto` is bio for wsj_names / oanc_names, none otherwise",
                     RNNLAB_FIELD(data.scheme)));
  s.push_back(choice("data.level", {"char", "word"}, "language_model: characters or words as tokens",
                     RNNLAB_FIELD(data.level)));
  s.push_back(boolean("data.lowercase", "Lower-case text before building the vocabulary",
                      RNNLAB_FIELD(data.lowercase)));
  s.push_back(integer("data.max_vocab", 0, kIntMax,
                      "Keep the most frequent tokens only, the rest become `<unk>`; 0 = unlimited",
                      RNNLAB_FIELD(data.max_vocab)));
  s.push_back(integer("data.min_count", 1, kIntMax,
                      "Tokens seen fewer times in the training part become `<unk>`",
                      RNNLAB_FIELD(data.min_count)));
  s.push_back(lt(ge(number("data.val_fraction",
                           "Held-out validation part: the end of a text or series, a seeded "
                           "shuffle for sequences",
                           RNNLAB_FIELD(data.val_fraction)),
                    0),
                 1));
  s.push_back(lt(ge(number("data.test_fraction", "Held-out test part, taken like the validation part",
                           RNNLAB_FIELD(data.test_fraction)),
                    0),
                 1));
  s.push_back(integer("data.seq_len", 1, kIntMax,
                      "language_model: truncated-BPTT length; adding / copy: sequence length T",
                      RNNLAB_FIELD(data.seq_len)));
  s.push_back(text("data.column", "forecast: the numeric column to model; empty = the last column",
                   RNNLAB_FIELD(data.column)));
  s.push_back(integer("data.window", 1, kIntMax, "forecast: past values fed to the model",
                      RNNLAB_FIELD(data.window)));
  s.push_back(integer("data.horizon", 1, kIntMax, "forecast: future values predicted at once",
                      RNNLAB_FIELD(data.horizon)));
  s.push_back(boolean("data.difference",
                      "forecast: model the change (inputs x_t - x_{t-1}, targets the change since the "
                      "last input), added back so errors are in the series' units",
                      RNNLAB_FIELD(data.difference)));
  s.push_back(integer("data.season", 0, kIntMax,
                      "forecast: season length of the seasonal-naive baseline (y_t = y_{t-season}), "
                      "printed beside repeat-last; 0 = none",
                      RNNLAB_FIELD(data.season)));
  s.push_back(integer("data.train_size", 1, kIntMax, "adding / copy: generated training sequences",
                      RNNLAB_FIELD(data.train_size)));
  s.push_back(integer("data.test_size", 1, kIntMax,
                      "adding / copy: generated validation and test sequences (each)",
                      RNNLAB_FIELD(data.test_size)));
  s.push_back(integer("data.copy_symbols", 2, kIntMax, "copy: alphabet size",
                      RNNLAB_FIELD(data.copy_symbols)));
  s.push_back(integer("data.copy_length", 1, kIntMax, "copy: symbols to remember",
                      RNNLAB_FIELD(data.copy_length)));

  s.push_back(integer("model.embedding_size", 0, kIntMax,
                      "Token embedding width (token tasks need >= 1); numeric tasks feed values "
                      "directly and ignore it",
                      RNNLAB_FIELD(model.embedding_size)));
  s.push_back(choice("model.cell", {"rnn_tanh", "rnn_relu", "lstm", "gru"}, "Recurrent cell",
                     RNNLAB_FIELD(model.cell)));
  s.push_back(integer("model.hidden_size", 1, kIntMax, "Units per direction and layer",
                      RNNLAB_FIELD(model.hidden_size)));
  s.push_back(integer("model.layers", 1, 1024, "Stacked recurrent layers", RNNLAB_FIELD(model.layers)));
  s.push_back(boolean("model.bidirectional", "Run every layer in both directions",
                      RNNLAB_FIELD(model.bidirectional)));
  s.push_back(choice("model.merge", {"concat", "sum"},
                     "How bidirectional outputs combine: concatenated or summed",
                     RNNLAB_FIELD(model.merge)));
  s.push_back(lt(ge(number("model.dropout", "Dropout between recurrent layers and before the head",
                           RNNLAB_FIELD(model.dropout)),
                    0),
                 1));
  s.push_back(boolean("model.peephole", "lstm only: gates see the cell state",
                      RNNLAB_FIELD(model.peephole)));
  s.push_back(integer("model.projection_size", 0, kIntMax,
                      "lstm only: project h to this size (< hidden_size); 0 = off",
                      RNNLAB_FIELD(model.projection_size)));
  s.push_back(choice("model.init", {"auto", "keras", "pytorch"},
                     "Initialisation: Keras's (Glorot / orthogonal, forget bias 1, embeddings "
                     "uniform +-0.05) or PyTorch's (uniform +-1/sqrt(hidden), embeddings N(0, 1)); "
                     "`auto` picks per task (see the rules below)",
                     RNNLAB_FIELD(model.init)));
  s.push_back(choice("model.embedding_init", {"auto", "keras", "pytorch"},
                     "Embedding table's initialisation: `auto` follows `model.init`; `keras` is "
                     "uniform(-0.05, 0.05), `pytorch` is N(0, 1)",
                     RNNLAB_FIELD(model.embedding_init)));
  s.push_back(choice("model.backend", {"onednn", "reference", "cudnn", "gpu"},
                     "Recurrent kernels: oneDNN (CPU), the plain reference loops, or cuDNN (the whole "
                     "step on the GPU; `gpu` is an alias)",
                     RNNLAB_FIELD(model.backend)));

  s.push_back(integer("train.batch_size", 1, kIntMax,
                      "Sequences per optimizer step (per rank); every batch but an epoch's last is full. "
                      "classify/tag: sequences of similar length (length-sorted pools of 100 batches "
                      "of a seeded shuffle) padded to the longest, exact: each runs over its own length",
                      RNNLAB_FIELD(train.batch_size)));
  s.push_back(integer("train.epochs", 0, kIntMax, "Passes over the training data (0: use max_steps)",
                      RNNLAB_FIELD(train.epochs)));
  s.push_back(integer("train.max_steps", 0, kInt64Max,
                      "Stop after this many optimizer steps; 0 = no limit",
                      RNNLAB_FIELD(train.max_steps)));
  s.push_back(choice("train.optimizer", optimizer_names(),
                     "sgd (momentum, Nesterov), adam (L2 weight decay) or adamw (decoupled), as in "
                     "torch.optim",
                     RNNLAB_FIELD(train.optimizer)));
  s.push_back(gt(number("train.lr", "Peak learning rate", RNNLAB_FIELD(train.lr)), 0));
  s.push_back(lt(ge(number("train.momentum", "sgd: momentum", RNNLAB_FIELD(train.momentum)), 0), 1));
  s.push_back(boolean("train.nesterov", "sgd: Nesterov momentum (needs momentum > 0)",
                      RNNLAB_FIELD(train.nesterov)));
  s.push_back(lt(ge(number("train.beta1", "adam, adamw: first-moment decay", RNNLAB_FIELD(train.beta1)), 0), 1));
  s.push_back(lt(ge(number("train.beta2", "adam, adamw: second-moment decay", RNNLAB_FIELD(train.beta2)), 0), 1));
  s.push_back(gt(number("train.eps", "adam, adamw: denominator epsilon", RNNLAB_FIELD(train.eps)), 0));
  s.push_back(ge(number("train.weight_decay",
                        "L2 penalty for sgd and adam; decoupled decay for adamw",
                        RNNLAB_FIELD(train.weight_decay)),
                 0));
  s.push_back(choice("train.schedule", schedule_names(),
                     "Learning rate after warm-up: constant, step decay, or cosine to min_lr over "
                     "the run",
                     RNNLAB_FIELD(train.schedule)));
  s.push_back(integer("train.warmup_steps", 0, kInt64Max,
                      "Linear warm-up from lr/warmup_steps to lr over this many steps",
                      RNNLAB_FIELD(train.warmup_steps)));
  s.push_back(integer("train.step_size", 1, kInt64Max,
                      "step schedule: multiply lr by gamma every step_size steps",
                      RNNLAB_FIELD(train.step_size)));
  s.push_back(le(gt(number("train.gamma", "step schedule: decay factor", RNNLAB_FIELD(train.gamma)), 0), 1));
  s.push_back(ge(number("train.min_lr", "cosine schedule: final learning rate", RNNLAB_FIELD(train.min_lr)), 0));
  s.push_back(ge(number("train.clip_norm", "Clip gradients to this global L2 norm; 0 = off",
                        RNNLAB_FIELD(train.clip_norm)),
                 0));
  s.push_back(integer("train.seed", 0, kInt64Max,
                      "Seed of initialisation, shuffling and dropout (same seed + threads = same run)",
                      RNNLAB_FIELD(train.seed)));
  s.push_back(integer("train.threads", 0, 4096, "CPU threads; 0 = all cores", RNNLAB_FIELD(train.threads)));
  s.push_back(integer("train.eval_every", 0, kIntMax,
                      "Steps between validations; 0 = at the end of every epoch",
                      RNNLAB_FIELD(train.eval_every)));
  s.push_back(text("train.early_stopping.metric",
                   "Validation metric to watch (names per task below); empty = no early stopping",
                   RNNLAB_FIELD(train.early_stopping.metric)));
  s.push_back(choice("train.early_stopping.goal", {"auto", "min", "max"},
                     "Whether the metric should fall or rise; `auto` resolves from the metric",
                     RNNLAB_FIELD(train.early_stopping.goal)));
  s.push_back(integer("train.early_stopping.patience", 1, kIntMax,
                      "Validations without improvement before stopping",
                      RNNLAB_FIELD(train.early_stopping.patience)));
  s.push_back(boolean("train.early_stopping.restore_best",
                      "Put back the parameters of the best validation when training ends, before the "
                      "test evaluation and the final checkpoint (Keras `restore_best_weights`; needs a metric)",
                      RNNLAB_FIELD(train.early_stopping.restore_best)));

  s.push_back(text("output.dir", "Checkpoints and metrics.jsonl go here", RNNLAB_FIELD(output.dir)));
  s.push_back(text("output.tracker", "SQLite run database, or http://HOST:PORT of `rnnlab serve` (token: $RNNLAB_TRACKER_TOKEN); empty = metrics.jsonl only",
                   RNNLAB_FIELD(output.tracker)));
  s.push_back(text("output.experiment", "Experiment name in the tracker", RNNLAB_FIELD(output.experiment)));
  s.push_back(text("output.run_name", "Run name in the tracker; empty = generated",
                   RNNLAB_FIELD(output.run_name)));
  s.push_back(integer("output.checkpoint_every", 0, kIntMax,
                      "Steps between checkpoints; 0 = at the end of every epoch",
                      RNNLAB_FIELD(output.checkpoint_every)));
  s.push_back(integer("output.log_every_seconds", 1, kIntMax,
                      "Seconds between progress lines when the output is not a terminal",
                      RNNLAB_FIELD(output.log_every_seconds)));

  s.push_back(gt(number("dist.timeout_seconds",
                        "Under mpirun: a collective that stalls this long (a dead or stuck rank) stops "
                        "every rank with a message naming it",
                        RNNLAB_FIELD(dist.timeout_seconds)),
                 0));
  s.push_back(boolean("dist.overlap",
                      "Under mpirun: all-reduce gradient buckets during backward; false = one "
                      "all-reduce after backward (same results)",
                      RNNLAB_FIELD(dist.overlap)));
  s.push_back(gt(number("dist.bucket_mb", "Under mpirun: gradient bucket size in MB (2^20 bytes)",
                        RNNLAB_FIELD(dist.bucket_mb)),
                 0));
  s.push_back(choice("dist.progress", {"none", "poll", "thread"},
                     "Under mpirun: how overlapped all-reduces advance: only when waited for, when "
                     "polled during backward, or by a progress thread",
                     RNNLAB_FIELD(dist.progress)));
  return s;
}

}  // namespace

const std::vector<ConfigKey>& config_schema() {
  static const std::vector<ConfigKey> schema = build_schema();
  return schema;
}

const ConfigKey* find_config_key(std::string_view key) {
  for (const ConfigKey& entry : config_schema())
    if (entry.key == key) return &entry;
  return nullptr;
}

bool is_config_section(std::string_view path) {
  if (path.empty()) return false;
  for (const ConfigKey& entry : config_schema())
    if (entry.key.size() > path.size() && entry.key.compare(0, path.size(), path) == 0 &&
        entry.key[path.size()] == '.')
      return true;
  return false;
}

std::string_view config_type_name(ConfigType type) {
  switch (type) {
    case ConfigType::boolean: return "boolean";
    case ConfigType::integer: return "integer";
    case ConfigType::number: return "number";
    case ConfigType::string: return "string";
    case ConfigType::choice: return "choice";
  }
  return "?";
}

std::string format_config_value(const ConfigValue& value) {
  if (const bool* flag = std::get_if<bool>(&value)) return *flag ? "true" : "false";
  if (const int64_t* integer_value = std::get_if<int64_t>(&value)) return std::to_string(*integer_value);
  if (const double* real = std::get_if<double>(&value)) {
    // Shortest form that parses back to the same double; always with a '.' or 'e' so the
    // reader sees a number, not an integer.
    char buffer[64];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, *real);
    std::string out(buffer, result.ptr);
    if (out.find_first_of(".eEn") == std::string::npos) out += ".0";
    return out;
  }
  return std::get<std::string>(value);
}

std::string config_range_text(const ConfigKey& key) {
  if (key.type != ConfigType::integer && key.type != ConfigType::number) return "";
  auto bound = [&](double v) {
    if (key.type == ConfigType::integer) return std::to_string(int64_t(v));
    char buffer[64];
    return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, v).ptr);
  };
  const bool show_max = key.has_max && key.max < (key.type == ConfigType::integer ? kIntMax : 1e300);
  if (key.has_min && show_max)
    return std::string(key.min_exclusive ? "(" : "[") + bound(key.min) + ", " + bound(key.max) +
           (key.max_exclusive ? ")" : "]");
  if (key.has_min) return std::string(key.min_exclusive ? "> " : ">= ") + bound(key.min);
  if (show_max) return std::string(key.max_exclusive ? "< " : "<= ") + bound(key.max);
  return "";
}

const std::vector<std::string>& config_rules() {
  static const std::vector<std::string> rules = {
      "`data.dataset: auto` becomes the task's default: language_model moby_dick, classify "
      "pang_lee, tag wsj_pos, forecast sunspots, adding adding, copy copy.",
      "`model.init: auto` becomes the scheme that learned best at equal steps for the task "
      "(docs/results.md, \"Initialisation: which default\"): pytorch for language_model and "
      "forecast, keras for classify, tag, adding and copy.",
      "A built-in data set must fit the task: moby_dick and sotu for language_model, pang_lee for "
      "classify, wsj_pos, oanc_pos, wsj_names and oanc_names for tag, sunspots and co2 for forecast, adding and copy for their "
      "tasks.",
      "`data.dataset: file` needs `data.path`; its `data.format` must fit the task (text: "
      "language_model; tsv or csv: classify; tagged or conll: tag; numeric_csv: forecast); `auto` "
      "picks text, tsv (csv for a .csv path), tagged, numeric_csv. adding and copy are generated and "
      "take no file.",
      "`data.format` other than auto needs `data.dataset: file`.",
      "`data.val_fraction + data.test_fraction` must be < 1.",
      "Token tasks (language_model, classify, tag, copy) need `model.embedding_size >= 1`.",
      "`model.peephole` and `model.projection_size` need `model.cell: lstm`; `projection_size` must "
      "be < `hidden_size`.",
      "`train.epochs` or `train.max_steps` must be > 0.",
      "`train.nesterov` with sgd needs `train.momentum > 0`.",
      "cosine: `train.min_lr <= train.lr`.",
      "`train.early_stopping.metric` must be one the task reports: language_model val_loss, "
      "val_perplexity, val_accuracy, val_bpc (char level), val_bits_per_token (word level); "
      "classify, tag and copy val_loss, val_accuracy; forecast "
      "val_loss, val_rmse, val_mae; adding val_loss, val_mse. `goal: auto` becomes max for "
      "val_accuracy and min otherwise; an explicit goal must agree.",
      "`model.backend: gpu` means `cudnn`. `cudnn` runs the whole training step on the GPU and "
      "needs a build with CUDA and a visible GPU, checked before any data is read (the error "
      "names the file and key); it has no peephole LSTM.",
      "`output.dir` and `output.experiment` must not be empty.",
  };
  return rules;
}

std::vector<std::string> task_metrics(std::string_view task) {
  if (task == "language_model") return {"val_loss", "val_perplexity", "val_accuracy", "val_bpc", "val_bits_per_token"};
  if (task == "classify" || task == "tag" || task == "copy") return {"val_loss", "val_accuracy"};
  if (task == "forecast") return {"val_loss", "val_rmse", "val_mae"};
  if (task == "adding") return {"val_loss", "val_mse"};
  return {};
}

bool metric_higher_is_better(std::string_view metric) { return metric == "val_accuracy"; }

std::string task_init_scheme(std::string_view task) {
  // language_model: N(0, 1) embeddings learn a character LM 0.25 nats/char faster at 600
  // steps; forecast: ~6 RMSE better on sunspots. classify, tag: Keras's small embeddings
  // generalise better (sentiment +11, POS +12 points at 300 steps). adding, copy: Keras's
  // forget bias 1 (see docs/results.md).
  return task == "language_model" || task == "forecast" ? "pytorch" : "keras";
}

std::vector<std::string> task_datasets(std::string_view task) {
  if (task == "language_model") return {"moby_dick", "sotu"};
  if (task == "classify") return {"pang_lee"};
  if (task == "tag") return {"wsj_pos", "oanc_pos", "wsj_names", "oanc_names"};
  if (task == "forecast") return {"sunspots", "co2"};
  if (task == "adding") return {"adding"};
  if (task == "copy") return {"copy"};
  return {};
}

}  // namespace rnnlab::trainer
