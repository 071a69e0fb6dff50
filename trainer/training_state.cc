#include "trainer/training_state.h"

#include <cmath>
#include <stdexcept>

namespace rnnlab::trainer {
namespace {

using nlohmann::json;

constexpr int kCheckpointVersion = 1;
constexpr const char* kBestParams = "early_stopping.best_params";

std::string optimizer_tensor(const std::string& state_name) { return "optimizer." + state_name; }

}  // namespace

void TrainingState::save(const std::string& path, const CheckpointContext& context, const Model& model,
                         Optimizer& optimizer, bool epoch_done) const {
  const std::vector<Model::Tensor> model_tensors = model.export_tensors();
  std::vector<TensorRef> refs;
  for (const auto& t : model_tensors) refs.push_back({t.name, t.shape, t.data.data()});
  for (const auto& [name, values] : optimizer.state())
    refs.push_back({optimizer_tensor(name), {int64_t(values->size())}, values->data()});
  if (!epoch_done && !carried.h.empty()) {
    refs.push_back({"carried.h", {int64_t(carried.h.size())}, carried.h.data()});
    if (!carried.c.empty()) refs.push_back({"carried.c", {int64_t(carried.c.size())}, carried.c.data()});
  }
  const std::vector<float>& best_params = early_stopping.best_params;
  if (!best_params.empty()) refs.push_back({kBestParams, {int64_t(best_params.size())}, best_params.data()});

  json meta;
  meta["format"] = kCheckpointFormat;
  meta["version"] = kCheckpointVersion;
  meta["config"] = context.config_yaml;
  meta["task_data"] = context.task_data;
  meta["step"] = step;
  // Where a resume starts: the batch after this one.
  meta["epoch"] = epoch_done ? epoch + 1 : epoch;
  meta["batch_in_epoch"] = epoch_done ? 0 : batch_in_epoch + 1;
  meta["carried_batch"] = carried.batch;
  meta["optimizer"] = {{"name", std::string(optimizer.name())}, {"step_count", optimizer.step_count()}};
  // JSON has no infinity: the initial best (+-inf) is written as null.
  meta["early_stopping"] = {
      {"best", early_stopping.best}, {"since_best", early_stopping.since_best}, {"stopped", early_stopping.stopped}};
  meta["gradient_norms"] = gradient_norms;
  if (run_id > 0) meta["tracker"] = {{"path", tracker_path}, {"run_id", run_id}};
  save_checkpoint(path, refs, meta);
}

void TrainingState::load(const Checkpoint& checkpoint, Model& model, Optimizer& optimizer, bool restore_best) {
  const json& meta = require_rnnlab_checkpoint(checkpoint);
  import_checkpoint(model, checkpoint);
  // value() with defaults: a const json's operator[] on a missing key is undefined.
  const json saved_optimizer = meta.value("optimizer", json::object());
  if (saved_optimizer.value("name", "") != optimizer.name())
    throw std::invalid_argument(checkpoint.path + ": saved with optimizer '" + saved_optimizer.value("name", "") +
                                "', config asks for '" + std::string(optimizer.name()) + "'");
  for (const auto& [name, values] : optimizer.state())
    checkpoint.copy_to(optimizer_tensor(name), {int64_t(values->size())}, values->data());
  optimizer.set_step_count(saved_optimizer.value("step_count", int64_t(0)));

  step = meta.value("step", int64_t(0));
  epoch = meta.value("epoch", 0);
  batch_in_epoch = meta.value("batch_in_epoch", int64_t(0));
  // null (the initial +-inf, also whenever early stopping is off) keeps the initial value.
  const json early = meta.value("early_stopping", json::object());
  if (early.contains("best") && early["best"].is_number()) early_stopping.best = early["best"].get<double>();
  early_stopping.since_best = early.value("since_best", 0);
  early_stopping.stopped = early.value("stopped", false);
  early_stopping.best_params.clear();
  if (restore_best) {
    if (checkpoint.find(kBestParams)) {
      early_stopping.best_params.resize(size_t(model.parameter_count()));
      checkpoint.copy_to(kBestParams, {model.parameter_count()}, early_stopping.best_params.data());
    } else if (std::isfinite(early_stopping.best)) {
      throw std::invalid_argument(checkpoint.path + ": has no copy of the best parameters ('" + kBestParams +
                                  "': saved without train.early_stopping.restore_best); resume with "
                                  "restore_best=false");
    }
  }
  gradient_norms = meta.value("gradient_norms", json());

  carried.clear();
  if (const Tensor* h = checkpoint.find("carried.h")) {
    carried.batch = meta.value("carried_batch", 0);
    carried.h = h->data;
    if (const Tensor* c = checkpoint.find("carried.c")) carried.c = c->data;
  }
  const json tracker = meta.value("tracker", json::object());
  tracker_path = tracker.value("path", "");
  run_id = tracker.value("run_id", int64_t(0));
}

}  // namespace rnnlab::trainer
