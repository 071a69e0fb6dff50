#include "trainer/generate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "layers/device.h"
#include "layers/random.h"
#include "layers/recurrent.h"
#include "trainer/checkpoint.h"
#include "trainer/data/vocabulary.h"

namespace rnnlab::trainer {
namespace {

// The prime's token ids. A character the training text never had is an error naming it
// and its position: the model would otherwise see <unk>, which it barely knows, and
// print "<unk>". A word-level model learned <unk> for every rare word (data.max_vocab,
// data.min_count), so an unknown word maps to it, with a warning naming the words.
std::vector<int32_t> encode_prime(const data::TextCodec& codec, const std::string& prime) {
  const std::vector<std::string> tokens = codec.tokenizer.split(prime);
  if (tokens.empty()) throw std::invalid_argument("--prime is empty after tokenisation");
  const bool words = codec.tokenizer.level == data::Tokenizer::Level::word;
  std::string unknown;
  int unknown_count = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (codec.vocabulary.contains(tokens[i])) continue;
    if (++unknown_count > 10) continue;  // enough to see the pattern
    unknown += std::string(unknown.empty() ? "" : ", ") + "'" + tokens[i] + "' at " + (words ? "word " : "character ") +
               std::to_string(i + 1);
  }
  if (unknown_count > 10) unknown += " and " + std::to_string(unknown_count - 10) + " more";
  if (unknown_count > 0 && (!words || codec.vocabulary.unk_id() < 0))
    throw std::invalid_argument("--prime: not in the model's vocabulary (" + std::to_string(codec.vocabulary.size()) +
                                " tokens from its training text): " + unknown);
  if (unknown_count > 0) std::fprintf(stderr, "rnnlab: warning: --prime: words the model does not know become <unk>: %s\n", unknown.c_str());
  return codec.vocabulary.encode(tokens);
}

}  // namespace

LoadedModel load_model(const std::string& checkpoint_path, const std::string& backend) {
  const Checkpoint checkpoint = load_checkpoint(checkpoint_path);
  const nlohmann::json& meta = require_rnnlab_checkpoint(checkpoint, {"config"});
  LoadedModel loaded;
  // A checkpoint trained on the GPU generates on the CPU where there is no GPU: the file is
  // the same, only the recurrent backend changes (an explicit --backend is kept as given).
  std::string chosen = backend;
  if (chosen.empty() && meta.contains("config") && meta["config"].is_string() &&
      !layers::device_available(layers::Device::cuda)) {
    const Config stored = parse_config(meta["config"].get<std::string>(), checkpoint_path + " (stored config)");
    if (stored.model.backend == "cudnn") {
      const auto built = layers::recurrent_backends();
      chosen = std::find(built.begin(), built.end(), "onednn") != built.end() ? "onednn" : "reference";
    }
  }
  const std::vector<std::string> overrides =
      chosen.empty() ? std::vector<std::string>{} : std::vector<std::string>{"model.backend=" + chosen};
  loaded.config = parse_config(meta["config"].get<std::string>(), checkpoint_path + " (stored config)", overrides);
  loaded.task_data = meta.value("task_data", nlohmann::json::object());

  data::TaskInfo info;
  info.task = loaded.config.task;
  info.vocab_size = loaded.task_data.value("vocab_size", 0);
  info.input_features = loaded.task_data.value("input_features", 0);
  info.output_size = loaded.task_data.value("output_size", 0);
  info.per_step_output = info.task == "language_model" || info.task == "tag" || info.task == "copy";
  if (info.output_size <= 0)
    throw std::invalid_argument(checkpoint_path + ": metadata lacks the model's output size");
  loaded.model = std::make_unique<Model>(model_spec(loaded.config, info), loaded.config.train.seed);
  import_checkpoint(*loaded.model, checkpoint);
  return loaded;
}

std::string generate_text(const std::string& checkpoint_path, const GenerateOptions& options) {
  if (options.temperature <= 0) throw std::invalid_argument("--temperature must be > 0");
  if (options.length < 0) throw std::invalid_argument("--length must be >= 0");
  LoadedModel loaded = load_model(checkpoint_path, options.backend);
  if (loaded.config.task != "language_model")
    throw std::invalid_argument(checkpoint_path + ": generate needs a language_model checkpoint, this one is '" +
                                loaded.config.task + "'");
  const data::TextCodec codec = data::TextCodec::from_json(loaded.task_data.at("input_codec"));
  std::vector<int32_t> ids = encode_prime(codec, options.prime);

  Model& model = *loaded.model;
  const int vocab = model.spec().output_size;
  CarriedState state;
  layers::RandomStream random{options.seed, 0x6E6};
  std::vector<int32_t> generated;
  std::vector<float> probabilities(static_cast<size_t>(vocab));
  std::vector<int32_t> order(static_cast<size_t>(vocab));

  // Feed the prime in one pass, then one token per step, carrying the state.
  data::Batch batch;
  batch.seq_len = int(ids.size());
  batch.batch_size = 1;
  batch.tokens = ids;
  batch.resets_state = true;
  for (int i = 0; i < options.length; ++i) {
    const std::vector<float> output = model.forward(batch, false, 0, &state).to_host();
    const float* logits = output.data() + (size_t(batch.seq_len) - 1) * size_t(vocab);
    // softmax(logits / T) restricted to the top k.
    std::iota(order.begin(), order.end(), 0);
    int keep = vocab;
    if (options.top_k > 0 && options.top_k < vocab) {
      keep = options.top_k;
      std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                        [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    }
    double max_logit = -INFINITY;
    for (int k = 0; k < keep; ++k) max_logit = std::max(max_logit, double(logits[order[size_t(k)]]));
    double total = 0;
    for (int k = 0; k < keep; ++k) {
      const double p = std::exp((logits[order[size_t(k)]] - max_logit) / options.temperature);
      probabilities[size_t(k)] = float(p);
      total += p;
    }
    double u = double(random.next_uniform()) * total;
    int32_t next = order[size_t(keep - 1)];
    for (int k = 0; k < keep; ++k) {
      u -= probabilities[size_t(k)];
      if (u < 0) {
        next = order[size_t(k)];
        break;
      }
    }
    generated.push_back(next);
    batch.seq_len = 1;
    batch.tokens = {next};
    batch.resets_state = false;
  }
  ids.insert(ids.end(), generated.begin(), generated.end());
  return codec.decode(ids);
}

}  // namespace rnnlab::trainer
