// classify (label per sequence) and tag (label per token): examples split by a fixed
// seeded shuffle, a word vocabulary from the training split, labels/tags as a closed set.
#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <stdexcept>

#include "layers/random.h"
#include "trainer/data/builders.h"
#include "trainer/data/readers.h"
#include "trainer/data/sequence_data.h"

namespace rnnlab::trainer::data {
namespace {

// Which split each example goes to: a fixed permutation, test first, then val, then train.
std::vector<Split> assign_splits(const DataConfig& data, size_t count, const std::string& what,
                                 const std::string& source) {
  const SplitSizes sizes = split_sizes(data, int64_t(count), what, source);
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), size_t(0));
  layers::RandomStream random{kSplitSeed, 0, 0};
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[size_t(random.next_below(i))]);
  std::vector<Split> assignment(count, Split::train);
  for (int64_t i = 0; i < sizes.test + sizes.val; ++i) {
    assignment[order[size_t(i)]] = i < sizes.test ? Split::test : Split::val;
  }
  return assignment;
}

bool is_integer(const std::string& text) {
  if (text.empty()) return false;
  char* end = nullptr;
  std::strtol(text.c_str(), &end, 10);
  return *end == '\0';
}

// Labels in a natural order: numerically when all are integers (Pang & Lee's -1 -> class 0,
// 1 -> class 1), else by bytes.
std::vector<std::string> sorted_labels(std::vector<std::string> labels) {
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  if (std::all_of(labels.begin(), labels.end(), is_integer)) {
    std::sort(labels.begin(), labels.end(), [](const std::string& a, const std::string& b) {
      return std::strtol(a.c_str(), nullptr, 10) < std::strtol(b.c_str(), nullptr, 10);
    });
  }
  return labels;
}

VocabularyOptions word_options(const DataConfig& data) { return {true, true, data.max_vocab, data.min_count}; }

// A trained model's label/tag set; `found` (this data's) must lie inside it.
Vocabulary trained_outputs(const nlohmann::json& trained, const std::vector<std::string>& found,
                           const std::string& path, const char* what) {
  Vocabulary outputs = Vocabulary::from_json(trained_part(trained, "output_vocabulary"));
  for (const std::string& item : found) {
    if (!outputs.contains(item)) {
      std::string known;
      for (const std::string& token : outputs.tokens()) known += (known.empty() ? "" : " ") + token;
      throw std::invalid_argument("data file '" + path + "' has " + what + " '" + item +
                                  "', which the model was not trained on (its " + what + "s: " + known + ")");
    }
  }
  return outputs;
}

}  // namespace

std::unique_ptr<TaskData> build_classify(const Config& config, const std::string& path, const std::string& format,
                                         const nlohmann::json* trained) {
  const std::vector<LabeledText> examples = format == "csv" ? read_labeled_csv(path) : read_labeled_tsv(path);
  Tokenizer tokenizer{Tokenizer::Level::word, config.data.lowercase};
  std::vector<std::vector<std::string>> words(examples.size());
  std::vector<std::string> labels;
  for (size_t i = 0; i < examples.size(); ++i) {
    words[i] = tokenizer.split(examples[i].text);
    if (words[i].empty()) {
      throw std::invalid_argument(path + ":" + std::to_string(examples[i].line) + ": text has no tokens");
    }
    labels.push_back(examples[i].label);
  }
  const std::vector<Split> assignment = assign_splits(config.data, examples.size(), "examples", path);

  std::map<std::string, int64_t> counts;
  for (size_t i = 0; i < examples.size(); ++i) {
    if (assignment[i] == Split::train) {
      for (const std::string& word : words[i]) ++counts[word];
    }
  }
  auto data = std::make_unique<SequenceTaskData>();
  if (trained) {
    data->codec = TextCodec::from_json(trained_part(*trained, "input_codec"));
    data->outputs = trained_outputs(*trained, sorted_labels(labels), path, "label");
  } else {
    data->codec = TextCodec{tokenizer, Vocabulary::from_counts(counts, word_options(config.data))};
    data->outputs = Vocabulary::from_tokens(sorted_labels(labels), {false, false, 0, 1});
  }
  if (data->outputs->size() < 2) throw std::invalid_argument("data file '" + path + "' has fewer than 2 labels");
  for (size_t i = 0; i < examples.size(); ++i) {
    SequenceSet& set = data->splits[int(assignment[i])];
    set.tokens.push_back(data->codec->vocabulary.encode(words[i]));
    set.labels.push_back(data->outputs->id(examples[i].label));
  }

  // Baseline: always the most frequent training class.
  std::vector<int64_t> class_counts(size_t(data->outputs->size()), 0);
  for (int32_t label : data->splits[0].labels) ++class_counts[size_t(label)];
  const int32_t majority = int32_t(std::max_element(class_counts.begin(), class_counts.end()) - class_counts.begin());
  for (int s = 0; s < 3; ++s) {
    const auto& labels_of_split = data->splits[s].labels;
    const double hits = double(std::count(labels_of_split.begin(), labels_of_split.end(), majority));
    data->baselines[s] = {{"accuracy", labels_of_split.empty() ? 0.0 : hits / double(labels_of_split.size())}};
  }

  TaskInfo& info = data->task_info;
  info.task = "classify";
  info.vocab_size = data->codec->vocabulary.size();
  info.pad_id = data->codec->vocabulary.pad_id();
  info.output_size = data->outputs->size();
  return data;
}

std::unique_ptr<TaskData> build_tag(const Config& config, const std::string& path, const std::string& format,
                                    bool proper_names, const nlohmann::json* trained) {
  std::vector<TaggedSentence> sentences = format == "conll" ? read_conll(path) : read_tagged(path);
  std::vector<std::string> warnings;
  const std::string scheme = apply_tag_scheme(config.data, path, proper_names, sentences, warnings);
  if (config.data.lowercase) {
    for (auto& sentence : sentences) {
      for (auto& word : sentence.words) {
        for (char& c : word) c = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
      }
    }
  }
  const std::vector<Split> assignment = assign_splits(config.data, sentences.size(), "sentences", path);

  // Tags are the output space, a closed set: taken from every split so a tag that only
  // occurs in test data is still a valid target. Words come from training only.
  std::vector<std::string> tags;
  std::map<std::string, int64_t> counts;
  std::map<std::string, std::map<std::string, int64_t>> tags_of_word;
  std::map<std::string, int64_t> tag_counts;
  for (size_t i = 0; i < sentences.size(); ++i) {
    tags.insert(tags.end(), sentences[i].tags.begin(), sentences[i].tags.end());
    if (assignment[i] != Split::train) continue;
    for (size_t j = 0; j < sentences[i].words.size(); ++j) {
      ++counts[sentences[i].words[j]];
      ++tags_of_word[sentences[i].words[j]][sentences[i].tags[j]];
      ++tag_counts[sentences[i].tags[j]];
    }
  }
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());

  auto data = std::make_unique<SequenceTaskData>();
  data->warning_lines = std::move(warnings);
  if (trained) {
    data->codec = TextCodec::from_json(trained_part(*trained, "input_codec"));
    data->outputs = Vocabulary::from_json(trained_part(*trained, "output_vocabulary"));
  } else {
    data->codec = TextCodec{Tokenizer{Tokenizer::Level::word, config.data.lowercase},
                            Vocabulary::from_counts(counts, word_options(config.data))};
    data->outputs = Vocabulary::from_tokens(tags, {false, false, 0, 1});
  }

  // Baseline: each training word's most frequent tag; other words get the most frequent tag.
  auto most_frequent = [](const std::map<std::string, int64_t>& histogram) {
    return std::max_element(histogram.begin(), histogram.end(),
                            [](const auto& a, const auto& b) { return a.second < b.second; })
        ->first;
  };
  const std::string overall = most_frequent(tag_counts);
  int64_t hits[3] = {0, 0, 0}, totals[3] = {0, 0, 0};
  for (size_t i = 0; i < sentences.size(); ++i) {
    const int s = int(assignment[i]);
    SequenceSet& set = data->splits[s];
    set.tokens.push_back(data->codec->vocabulary.encode(sentences[i].words));
    if (trained) {  // tags the model cannot output are not scored
      std::vector<int32_t> targets;
      for (const std::string& tag : sentences[i].tags) {
        const bool known = data->outputs->contains(tag);
        targets.push_back(known ? data->outputs->id(tag) : kIgnoreIndex);
        data->unscored[s] += known ? 0 : 1;
      }
      set.step_targets.push_back(std::move(targets));
    } else {
      set.step_targets.push_back(data->outputs->encode(sentences[i].tags));
    }
    for (size_t j = 0; j < sentences[i].words.size(); ++j) {
      auto known = tags_of_word.find(sentences[i].words[j]);
      const std::string& guess = known == tags_of_word.end() ? overall : most_frequent(known->second);
      hits[s] += guess == sentences[i].tags[j] ? 1 : 0;
      ++totals[s];
    }
  }
  for (int s = 0; s < 3; ++s) {
    data->baselines[s] = {{"accuracy", totals[s] == 0 ? 0.0 : double(hits[s]) / double(totals[s])}};
  }

  TaskInfo& info = data->task_info;
  info.task = "tag";
  info.vocab_size = data->codec->vocabulary.size();
  info.pad_id = data->codec->vocabulary.pad_id();
  info.output_size = data->outputs->size();
  info.per_step_output = true;
  info.tag_scheme = scheme;
  return data;
}

}  // namespace rnnlab::trainer::data
