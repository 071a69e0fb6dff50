// The training configuration: typed structs filled from a YAML file plus dotted
// command-line overrides (`model.cell=gru train.lr=0.01`, like Hydra).
//
// Every key has one entry in the schema (config_schema.cc): its dotted path, type, default,
// allowed values and one line of documentation. Loading checks the whole file against the
// schema before any work starts; an unknown key, a wrong type or a bad value throws
// std::invalid_argument naming `file:line: key 'a.b.c': what is wrong`. docs/config.md is
// generated from the same schema (`rnnlab config --docs`), so they cannot drift apart.
//
// The flattened form (`flatten_config`) is what the tracker stores as params and what a
// sweep varies: every schema key with its value, numbers as numbers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace rnnlab::trainer {

struct DataConfig {
  // Built-in data set (fetched by `rnnlab data fetch NAME`), or "file" for the user's own.
  // moby_dick | sotu | pang_lee | wsj_pos | oanc_pos | wsj_names | oanc_names | sunspots | co2 |
  // adding | copy | file, or
  // "auto": loading resolves it to the task's default, so a loaded Config never says auto.
  std::string dataset = "auto";
  std::string path;          // with dataset=file (or to override a built-in's location)
  // With dataset=file: text | tsv | csv | tagged | conll | numeric_csv; "auto" resolves from the
  // task when loading. Built-in data sets keep "auto" (their reader knows the format).
  std::string format = "auto";
  std::string level = "char";  // language_model: char | word
  bool lowercase = false;
  // tag: span tags (trainer/data/spans.h) bio | iobes, none for plain tags (POS); "auto" is
  // bio for the name-span data sets (wsj_names, oanc_names) and none otherwise.
  std::string scheme = "auto";
  int max_vocab = 0;           // 0 = unlimited; rarer tokens become <unk>
  int min_count = 1;           // tokens seen fewer times in training become <unk>
  double val_fraction = 0.1;   // held-out splits, taken from the end (time series, LM)
  double test_fraction = 0.1;  // or by a seeded shuffle (classify, tag)
  int seq_len = 100;           // LM: truncated-BPTT length; adding/copy: sequence length T
  std::string column;          // forecast: numeric column name (default: the last one)
  int window = 20;             // forecast: past values fed to the model
  int horizon = 1;             // forecast: future values predicted
  bool difference = false;     // forecast: model the changes x_t - x_{t-1}, add them back
  int season = 0;              // forecast: period of the seasonal-naive baseline; 0 = none
  int train_size = 10000;      // adding/copy: generated training sequences
  int test_size = 1000;        // adding/copy: generated held-out sequences
  int copy_symbols = 8;        // copy task: alphabet size
  int copy_length = 10;        // copy task: symbols to remember
};

struct ModelConfig {
  int embedding_size = 64;   // token tasks; 0 = one-hot-free direct input for numeric tasks
  std::string cell = "lstm";  // rnn_tanh | rnn_relu | lstm | gru
  int hidden_size = 128;
  int layers = 1;
  bool bidirectional = false;
  std::string merge = "concat";  // bidirectional outputs: concat | sum
  double dropout = 0.0;          // between recurrent layers and before the head
  bool peephole = false;         // lstm only
  int projection_size = 0;       // lstm only
  std::string init = "auto";     // keras | pytorch; "auto" resolves per task when loading
  std::string embedding_init = "auto";  // auto (= init) | keras (U(-0.05, 0.05)) | pytorch (N(0, 1))
  std::string backend = "onednn";  // onednn | reference | cudnn (alias gpu; whole step on the GPU)
};

struct EarlyStoppingConfig {
  std::string metric;        // e.g. val_loss; empty = off
  std::string goal = "auto";  // min | max; "auto" resolves from the metric when loading
  int patience = 3;          // evaluations without improvement before stopping
  // Keep a copy of the parameters at the best evaluation and put it back when training
  // ends (early or not), before the test evaluation and the final checkpoint (Keras's
  // restore_best_weights). The copy travels in checkpoints, so resume is unaffected.
  bool restore_best = false;
};

struct TrainConfig {
  int batch_size = 64;
  int epochs = 10;
  int64_t max_steps = 0;         // 0 = no limit; else stop after this many optimizer steps
  std::string optimizer = "adam";  // sgd | adam | adamw
  double lr = 1e-3;
  double momentum = 0.0;         // sgd
  bool nesterov = false;         // sgd
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw
  double weight_decay = 0.0;     // L2 for sgd/adam, decoupled for adamw
  std::string schedule = "constant";  // constant | step | cosine
  int64_t warmup_steps = 0;      // linear warm-up from 0 before the schedule
  int64_t step_size = 1000;      // step schedule: multiply lr by gamma every step_size steps
  double gamma = 0.5;
  double min_lr = 0.0;           // cosine floor
  double clip_norm = 5.0;        // global-norm clipping; 0 = off
  uint64_t seed = 0;
  int threads = 0;               // 0 = all cores
  int eval_every = 0;            // steps between validations; 0 = once per epoch
  EarlyStoppingConfig early_stopping;
};

struct OutputConfig {
  std::string dir = "runs/default";  // checkpoints and metrics.jsonl go here
  std::string tracker;               // SQLite database path; empty = metrics.jsonl only
  std::string experiment = "default";
  std::string run_name;              // empty = generated
  int checkpoint_every = 0;          // steps; 0 = at the end of every epoch
  int log_every_seconds = 5;         // progress lines when not on a terminal
};

// Data-parallel runs under mpirun (ignored by a single process); see docs/distributed.md.
struct DistConfig {
  double timeout_seconds = 60;      // a collective stalled this long stops every rank
  bool overlap = true;              // all-reduce gradient buckets during backward
  double bucket_mb = 4.0;           // gradient bucket size in MB (2^20 bytes)
  std::string progress = "thread";  // how async all-reduces advance: none | poll | thread
};

struct Config {
  std::string task = "language_model";  // language_model | classify | tag | forecast | adding | copy
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  OutputConfig output;
  DistConfig dist;
  std::string source;  // file the config came from ("" when built in code)
};

// A flattened config value: what a sweep varies and the tracker stores.
using ConfigValue = std::variant<bool, int64_t, double, std::string>;
using FlatConfig = std::map<std::string, ConfigValue>;  // "model.cell" -> "lstm"

// Loads `path`, applies `overrides` ("a.b=value", YAML scalars) in order, resolves "auto"
// values and validates everything before returning. Throws std::invalid_argument for a
// missing or unreadable file (naming the path), malformed YAML (`file:line: invalid YAML:
// ...`) and every schema or rule violation, all of them in one message, one per line
// (`file:line: key 'model.cell': unknown value 'lstn' (choices: ...)`, `override
// 'model.cell=xyz': key 'model.cell': ...`). Thread safe (no shared state).
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});
// Same from YAML text; `source_name` is used in error messages.
Config parse_config(const std::string& yaml_text, const std::string& source_name,
                    const std::vector<std::string>& overrides = {});

// Resolves "auto" values, then checks every key against the schema (type bounds, choices)
// and the rules between keys (config_rules()), for a Config built or edited in code.
// Throws std::invalid_argument listing every problem, one per line, prefixed by
// `config.source` (or "config").
void validate_config(Config& config);

FlatConfig flatten_config(const Config& config);
std::string config_to_yaml(const Config& config);  // round-trips through parse_config
std::string config_docs_markdown();                // docs/config.md, generated from the schema

}  // namespace rnnlab::trainer
