// trainer::Model: Keras parameter counts through the Model, the flat buffer's segments,
// gradients of the whole model (embedding + stack + head, final-state and per-step heads,
// bidirectional concat and sum) against finite differences, the checkpoint round trip, and
// the module registry and the carried state, the exactness of equal-length batches (a batch of variable-length data equals each of
// its sequences alone). The gradient checks run the same body on every device (cuda: the
// cudnn backend; skipped, saying so, without a GPU).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "layers/random.h"
#include "tests/trainer/device_test_util.h"
#include "tests/trainer/train_test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/data/task_data.h"
#include "trainer/model.h"
#include "trainer/objective.h"

namespace rnnlab::trainer {
namespace {

using layers::Cell;
using layers::Direction;
using testing_util::TempFolder;

ModelSpec token_spec(int vocab, int embedding, Cell cell, int hidden, int layers_count = 1,
                     Direction direction = Direction::forward, bool per_step = false, int output = 1,
                     const std::string& backend = "reference") {
  ModelSpec spec;
  spec.vocab_size = vocab;
  spec.embedding_size = embedding;
  spec.recurrent.cell = cell;
  spec.recurrent.input_size = embedding;
  spec.recurrent.hidden_size = hidden;
  spec.recurrent.num_layers = layers_count;
  spec.recurrent.direction = direction;
  spec.per_step_output = per_step;
  spec.output_size = output;
  spec.backend = backend;
  return spec;
}

TEST(ModelSummary, KerasSeedExamplesThroughTheModel) {
  // Embedding(10000, 32) + SimpleRNN(32) + Dense(1): 320000 + 2080 + 33.
  const Model simple(token_spec(10000, 32, Cell::rnn_tanh, 32), 0);
  EXPECT_EQ(simple.summary().total_params, 322113);
  EXPECT_EQ(simple.parameter_count(), 322113);
  // Embedding(10000, 32) + LSTM(32) + Dense(1).
  const Model lstm(token_spec(10000, 32, Cell::lstm, 32, 1, Direction::forward, false, 1, "onednn"), 0);
  EXPECT_EQ(lstm.summary().total_params, 320000 + 8320 + 33);
  EXPECT_EQ(lstm.summary().to_string().find("Total params: 328,353") != std::string::npos, true)
      << lstm.summary().to_string();
  const Model simple_reference(token_spec(10000, 32, Cell::rnn_tanh, 32), 0);
  EXPECT_EQ(simple_reference.summary().to_string(), simple.summary().to_string());
}

TEST(ModelSegments, CoverTheBufferWithoutGapsInOrder) {
  for (const Direction direction : {Direction::forward, Direction::bidirectional_concat, Direction::bidirectional_sum}) {
    for (const bool per_step : {false, true}) {
      const Model model(token_spec(11, 5, Cell::gru, 6, 3, direction, per_step, 4), 1);
      int64_t end = 0;
      std::set<std::string> names;
      for (const ParamSegment& segment : model.segments()) {
        EXPECT_EQ(segment.offset, end) << segment.name;
        EXPECT_GT(segment.size(), 0) << segment.name;
        EXPECT_TRUE(names.insert(segment.name).second) << "duplicate " << segment.name;
        end = segment.offset + segment.size();
      }
      EXPECT_EQ(end, model.parameter_count());
      EXPECT_EQ(model.segments().front().name, "embedding.weight");
      EXPECT_EQ(model.segments().back().name, "head.bias");
      EXPECT_EQ(model.segments().back().group, "head");
      EXPECT_TRUE(names.count("rnn.weight_hh_l2")) << "3 layers";
      EXPECT_EQ(model.spec().head_input_size(), direction == Direction::bidirectional_concat ? 12 : 6);
      // The summary counts what the buffer holds (merge=sum too: see the test below).
      EXPECT_EQ(model.summary().total_params, model.parameter_count())
          << "direction " << int(direction) << (per_step ? ", per-step head" : ", final-state head") << "\n"
          << model.summary().to_string();
    }
  }
}

// Was a bug: with merge=sum the summary showed Bidirectional layers of 2 * units outputs,
// so every later layer and the head were counted with twice their input size (2015
// parameters shown for a 1559-parameter model). layers::RecurrentSpec::merge_sum fixed it.
TEST(ModelSegments, BidirectionalSumSummaryCountsTheBuffer) {
  for (const bool per_step : {false, true}) {
    const Model model(token_spec(11, 5, Cell::gru, 6, 3, Direction::bidirectional_sum, per_step, 4), 1);
    EXPECT_EQ(model.summary().total_params, model.parameter_count()) << model.summary().to_string();
  }
}

// A token batch [T, N] of random ids.
data::Batch random_token_batch(int seq_len, int batch, int vocab, uint64_t seed) {
  data::Batch b;
  b.seq_len = seq_len;
  b.batch_size = batch;
  layers::RandomStream random{seed, 1};
  for (int i = 0; i < seq_len * batch; ++i) b.tokens.push_back(int32_t(random.next_uniform() * float(vocab)) % vocab);
  return b;
}

// Loss = sum_i w_i * output_i with fixed random w, so d loss / d output = w exactly and the
// test checks the model's own chain (head, final-state wiring, stack, embedding).
double linear_loss(Model& model, const data::Batch& batch, const std::vector<float>& w) {
  const std::vector<float> out = model.forward(batch, true, 0).to_host();
  double loss = 0;
  for (size_t i = 0; i < out.size(); ++i) loss += double(w[i]) * out[i];
  return loss;
}

// A host vector as a buffer on `device`.
layers::Buffer<float> buffer_of(const std::vector<float>& host, layers::Device device = layers::Device::cpu) {
  layers::Buffer<float> buffer(device);
  buffer.upload(host);
  return buffer;
}

void expect_gradient_matches_finite_differences(const ModelSpec& spec, const data::Batch& batch) {
  Model model(spec, 3);
  const auto& out = model.forward(batch, true, 0);
  std::vector<float> w(out.size());
  layers::RandomStream random{5, 2};
  for (float& x : w) x = random.next_uniform() * 2 - 1;
  model.zero_grads();
  model.backward(buffer_of(w, model.device()));
  const std::vector<float> analytic = model.grad_buffer().to_host();
  // Every segment, a spread of its entries (the embedding rows the batch uses included).
  int checked = 0, nonzero = 0;
  for (const ParamSegment& segment : model.segments()) {
    const int64_t stride = std::max<int64_t>(1, segment.size() / 12);
    for (int64_t k = 0; k < segment.size(); k += stride) {
      const int64_t i = segment.offset + k;
      const float saved = model.params()[i];
      const float h = 1e-2f;
      model.params()[i] = saved + h;
      model.sync_from_host();
      const double plus = linear_loss(model, batch, w);
      model.params()[i] = saved - h;
      model.sync_from_host();
      const double minus = linear_loss(model, batch, w);
      model.params()[i] = saved;
      model.sync_from_host();
      const double numeric = (plus - minus) / (2.0 * h);
      EXPECT_NEAR(analytic[size_t(i)], numeric, 2e-2 + 2e-2 * std::fabs(numeric))
          << segment.name << "[" << k << "]";
      ++checked;
      if (std::fabs(analytic[size_t(i)]) > 1e-6f) ++nonzero;
    }
  }
  EXPECT_GT(nonzero, checked / 3) << "most gradients are zero: the test would not see wiring mistakes";

}

// The gradient checks, one body per device.
class ModelGradient : public ::testing::TestWithParam<layers::Device> {
 protected:
  void SetUp() override { RNNLAB_SKIP_WITHOUT(GetParam()); }
  ModelSpec on_device(ModelSpec spec) const {
    spec.backend = testing_util::backend_for(GetParam(), spec.backend);
    return spec;
  }
};

TEST_P(ModelGradient, FinalStateHeadForwardLstm) {
  expect_gradient_matches_finite_differences(
      on_device(token_spec(7, 4, Cell::lstm, 5, 2, Direction::forward, false, 3)), random_token_batch(5, 3, 7, 1));
}
TEST_P(ModelGradient, FinalStateHeadBidirectionalConcat) {
  expect_gradient_matches_finite_differences(
      on_device(token_spec(7, 4, Cell::gru, 5, 2, Direction::bidirectional_concat, false, 3)),
      random_token_batch(5, 3, 7, 2));
}
TEST_P(ModelGradient, FinalStateHeadBidirectionalSum) {
  expect_gradient_matches_finite_differences(
      on_device(token_spec(7, 4, Cell::lstm, 5, 2, Direction::bidirectional_sum, false, 2)),
      random_token_batch(4, 2, 7, 3));
}
TEST_P(ModelGradient, PerStepHeadBidirectionalConcat) {
  expect_gradient_matches_finite_differences(
      on_device(token_spec(6, 3, Cell::rnn_tanh, 4, 2, Direction::bidirectional_concat, true, 6)),
      random_token_batch(4, 2, 6, 4));
}
TEST_P(ModelGradient, PerStepHeadSumAndNumericInput) {
  expect_gradient_matches_finite_differences(
      on_device(token_spec(6, 3, Cell::lstm, 4, 1, Direction::bidirectional_sum, true, 6)),
      random_token_batch(4, 2, 6, 5));
  ModelSpec numeric = on_device(token_spec(0, 0, Cell::gru, 5, 2, Direction::bidirectional_concat, false, 2));
  numeric.input_features = 2;
  numeric.recurrent.input_size = 2;
  data::Batch batch;
  batch.seq_len = 6;
  batch.batch_size = 3;
  batch.features = 2;
  layers::RandomStream random{9, 3};
  for (int i = 0; i < 6 * 3 * 2; ++i) batch.values.push_back(random.next_uniform() * 2 - 1);
  expect_gradient_matches_finite_differences(numeric, batch);
}

INSTANTIATE_TEST_SUITE_P(Devices, ModelGradient, testing_util::all_devices(), testing_util::device_name);

// The registry the modules share: offsets in registration order, each module's range,
// no registration after the buffers exist, and a stack on another device than the
// parameters is refused naming both.
TEST(ModelModules, ParameterSetRegistryAndModuleRanges) {
  layers::ParameterSet parameters(layers::Device::cpu);
  layers::Embedding embedding(parameters, "embedding", 5, 3);
  layers::RecurrentOptions rnn;
  rnn.cell = Cell::gru;
  rnn.input_size = 3;
  rnn.hidden_size = 4;
  layers::Recurrent recurrent(parameters, "rnn", layers::make_recurrent_stack("reference", rnn));
  layers::Linear head(parameters, "head", 4, 2);
  EXPECT_EQ(embedding.begin(), 0);
  EXPECT_EQ(embedding.end(), 15);
  EXPECT_EQ(recurrent.begin(), 15);
  EXPECT_EQ(recurrent.end(), 15 + layers::recurrent_parameter_count(rnn));
  EXPECT_EQ(head.begin(), recurrent.end());
  EXPECT_EQ(head.end(), parameters.count());
  EXPECT_EQ(parameters.segments().back().name, "head.bias");
  EXPECT_EQ(parameters.segments()[1].group, "rnn.l0");
  parameters.allocate();
  EXPECT_EQ(int64_t(parameters.params().size()), parameters.count());
  EXPECT_EQ(int64_t(parameters.grads().size()), parameters.count());
  EXPECT_THROW(layers::Linear(parameters, "late", 2, 2), std::logic_error);

  layers::ParameterSet on_cuda(layers::Device::cuda);
  try {
    layers::Recurrent wrong(on_cuda, "rnn", layers::make_recurrent_stack("reference", rnn));
    ADD_FAILURE() << "a cpu stack over cuda parameters was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("computes on cpu"), std::string::npos) << error.what();
  }
}

// The carried state stays in the model's buffers between forwards (no host copy per step);
// sync_to_host() makes the copy, and a host copy (a restore) is what the next forward uses.
TEST(ModelModules, CarriedStateStaysInTheModelBuffersUntilSynced) {
  Model model(token_spec(7, 4, Cell::lstm, 5, 2, Direction::forward, true, 7), 3);
  const data::Batch first = random_token_batch(4, 3, 7, 1);
  data::Batch second = random_token_batch(4, 3, 7, 2);
  second.resets_state = false;  // continues `first`
  CarriedState state;
  model.forward(first, false, 0, &state);
  EXPECT_TRUE(state.on_device);
  EXPECT_TRUE(state.h.empty()) << "no host copy per step";
  EXPECT_EQ(state.batch, 3);
  const std::vector<float> continued = model.forward(second, false, 0, &state).to_host();

  CarriedState restored;
  model.forward(first, false, 0, &restored);
  restored.sync_to_host();
  ASSERT_EQ(restored.h.size(), size_t(2 * 3 * 5));
  ASSERT_EQ(restored.c.size(), size_t(2 * 3 * 5));
  CarriedState from_host;
  from_host.batch = 3;
  from_host.h = restored.h;
  from_host.c = restored.c;
  EXPECT_EQ(model.forward(second, false, 0, &from_host).to_host(), continued) << "a host copy is the state";
  CarriedState zeros;
  zeros.batch = 3;
  EXPECT_NE(model.forward(second, false, 0, &zeros).to_host(), continued) << "a cleared state starts from zeros";
  from_host.h.resize(4);
  from_host.on_device = false;
  EXPECT_THROW(model.forward(second, false, 0, &from_host), std::invalid_argument) << "wrong size";
}

TEST(ModelCheckpoint, RoundTripGivesIdenticalOutputs) {
  TempFolder folder;
  for (const std::string backend : {"onednn", "reference"}) {
    const ModelSpec spec = token_spec(9, 4, Cell::lstm, 6, 2, Direction::bidirectional_concat, false, 3, backend);
    Model original(spec, 11);
    const data::Batch batch = random_token_batch(5, 4, 9, 6);
    const std::vector<float> expected = original.forward(batch, false, 0).to_host();
    const auto tensors = original.export_tensors();
    std::vector<TensorRef> refs;
    for (const auto& t : tensors) refs.push_back({t.name, t.shape, t.data.data()});
    const std::string path = folder.file(backend + ".safetensors");
    save_checkpoint(path, refs, {{"note", "model test"}});
    const Checkpoint loaded = load_checkpoint(path);
    std::vector<Model::Tensor> back;
    for (const auto& t : loaded.tensors) back.push_back({t.name, t.shape, t.data});
    Model restored(spec, 12);  // other seed: other initial weights
    EXPECT_NE(restored.forward(batch, false, 0).host(), expected);
    restored.import_tensors(back);
    EXPECT_EQ(restored.forward(batch, false, 0).host(), expected) << backend;
    EXPECT_TRUE(std::equal(restored.params(), restored.params() + restored.parameter_count(), original.params()));
  }
}

TEST(ModelCheckpoint, ImportErrorsNameTheTensorAndChangeNothing) {
  const ModelSpec spec = token_spec(9, 4, Cell::lstm, 6, 1, Direction::forward, false, 3);
  Model model(spec, 1);
  const std::vector<float> before(model.params(), model.params() + model.parameter_count());
  const auto good = Model(spec, 2).export_tensors();
  for (const std::string name : {"embedding.weight", "rnn.weight_hh_l0", "head.weight"}) {
    auto tensors = good;
    for (auto& t : tensors)
      if (t.name == name) {
        t.shape[0] += 1;
        t.data.resize(t.data.size() + size_t(t.shape[1]));
      }
    try {
      model.import_tensors(tensors);
      ADD_FAILURE() << "wrong shape of " << name << " accepted";
    } catch (const std::invalid_argument& error) {
      const std::string bare = name.rfind("rnn.", 0) == 0 ? name.substr(4) : name;
      EXPECT_NE(std::string(error.what()).find(bare), std::string::npos) << error.what();
    }
  }
  auto missing = good;
  missing.pop_back();
  EXPECT_THROW(model.import_tensors(missing), std::invalid_argument);
  auto extra = good;
  extra.push_back({"unknown.weight", {1}, {0.0f}});
  EXPECT_THROW(model.import_tensors(extra), std::invalid_argument);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), model.params())) << "a failed import changed parameters";
}

// Variable-length data (classify: one loss per sequence; tag: one per valid step): the
// data layer's padded batches (full, several lengths in one batch) give the mean loss and
// gradient of their sequences each run alone, for a 2-layer bidirectional stack (concat and
// sum), on each CPU backend.
struct PaddedCase {
  std::string backend, task, merge;
};
void PrintTo(const PaddedCase& c, std::ostream* os) { *os << c.backend << "_" << c.task << "_" << c.merge; }

class VariableLengths : public ::testing::TestWithParam<PaddedCase> {};

// Column n of a padded batch as a batch of one, its own length long.
data::Batch alone_batch(const data::Batch& batch, int n) {
  data::Batch one;
  one.seq_len = batch.lengths[size_t(n)];
  one.batch_size = 1;
  for (int t = 0; t < one.seq_len; ++t) {
    one.tokens.push_back(batch.tokens[size_t(t * batch.batch_size + n)]);
    if (!batch.token_targets.empty()) one.token_targets.push_back(batch.token_targets[size_t(t * batch.batch_size + n)]);
  }
  if (!batch.labels.empty()) one.labels = {batch.labels[size_t(n)]};
  one.global_targets = one.local_targets =
      batch.labels.empty() ? int64_t(std::count_if(one.token_targets.begin(), one.token_targets.end(),
                                                   [](int32_t t) { return t != data::kIgnoreIndex; }))
                           : 1;
  return one;
}

TEST_P(VariableLengths, PaddedBatchEqualsEachSequenceAlone) {
  TempFolder folder;
  Config config = testing_util::tiny_config(GetParam().task, folder, GetParam().backend);
  config.model.bidirectional = true;
  config.model.merge = GetParam().merge;
  config.model.layers = 2;
  const auto task_data = data::make_task_data(config);
  const data::TaskInfo info = task_data->info();
  Model model(model_spec(config, info), 4);
  const Objective objective(info);
  data::BatchOptions options;
  options.batch_size = 12;
  const auto batches = task_data->batches(data::Split::train, options);
  int compared = 0;
  for (const data::Batch& batch : batches) {
    ASSERT_EQ(batch.lengths.size(), size_t(batch.batch_size));
    const std::set<int32_t> lengths(batch.lengths.begin(), batch.lengths.end());
    if (lengths.size() < 2) continue;  // the cases that need padding
    MetricSums sums;
    layers::Buffer<float> diff;
    model.zero_grads();
    objective.evaluate(batch, model.forward(batch, true, 0), sums, &diff);
    model.backward(diff);
    const double batch_loss = sums.loss_sum / sums.count;
    const std::vector<float> batch_grads(model.grads(), model.grads() + model.parameter_count());

    double alone_loss = 0;
    std::vector<double> alone_grads(batch_grads.size(), 0.0);
    for (int n = 0; n < batch.batch_size; ++n) {
      const data::Batch one = alone_batch(batch, n);
      const double weight = double(one.global_targets) / double(batch.global_targets);
      MetricSums one_sums;
      model.zero_grads();
      objective.evaluate(one, model.forward(one, true, 0), one_sums, &diff);
      model.backward(diff);
      alone_loss += one_sums.loss_sum / double(batch.global_targets);
      for (size_t i = 0; i < alone_grads.size(); ++i) alone_grads[i] += double(model.grads()[i]) * weight;
    }
    EXPECT_NEAR(batch_loss, alone_loss, 1e-5 * std::max(1.0, std::fabs(alone_loss)));
    double max_error = 0, max_grad = 0;
    for (size_t i = 0; i < alone_grads.size(); ++i) {
      max_error = std::max(max_error, std::fabs(double(batch_grads[i]) - alone_grads[i]));
      max_grad = std::max(max_grad, std::fabs(alone_grads[i]));
    }
    EXPECT_LT(max_error, 1e-5 * std::max(1e-3, max_grad)) << "batch of lengths " << *lengths.begin() << ".."
                                                           << *lengths.rbegin();
    ++compared;
  }
  EXPECT_GE(compared, 2) << "the fixture should give batches of several lengths";
}

INSTANTIATE_TEST_SUITE_P(Backends, VariableLengths,
                         ::testing::Values(PaddedCase{"onednn", "classify", "concat"},
                                           PaddedCase{"onednn", "classify", "sum"},
                                           PaddedCase{"onednn", "tag", "concat"},
                                           PaddedCase{"reference", "classify", "concat"},
                                           PaddedCase{"reference", "tag", "sum"}),
                         [](const auto& test) {
                           return test.param.backend + "_" + test.param.task + "_" + test.param.merge;
                         });

TEST(ModelInput, PaddedBatchNeedsOneLengthPerSequence) {
  Model model(token_spec(5, 3, Cell::lstm, 4), 0);
  data::Batch batch = random_token_batch(3, 2, 5, 0);
  batch.lengths = {3};
  EXPECT_THROW(model.forward(batch, false, 0), std::invalid_argument);
  batch.lengths = {3, 0};
  EXPECT_THROW(model.forward(batch, false, 0), std::invalid_argument);
  batch.lengths = {3, 2};
  EXPECT_NO_THROW(model.forward(batch, false, 0));
}

}  // namespace
}  // namespace rnnlab::trainer
