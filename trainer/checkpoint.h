// Checkpoints: safetensors files of named float32 tensors plus one JSON metadata document.
//
// Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length
// N, N bytes of JSON {name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
// "__metadata__": {string: string}} padded with spaces to a multiple of 8, then the raw
// little-endian data, tensors back to back in the order given. Tensor names are whatever
// the trainer passes: PyTorch's parameter names (`rnn.weight_ih_l0`, ...) so that
// `safetensors.torch.load_file` + `torch.nn.LSTM.load_state_dict` (after stripping the
// prefix) read a model, and optimizer state under its own prefix.
//
// Metadata lives INSIDE the file, in `__metadata__`: "rnnlab" holds the trainer's JSON
// document (config, vocabulary, step, epoch, optimizer step count, RNG state, data position,
// ...; opaque here) serialised as a string, "format" is "pt" (what safetensors.torch
// writes), and "data_crc32" is the CRC-32 (zlib's) of the data section. One file means one
// atomic rename: weights and metadata can never come from different steps after a crash,
// which a sidecar .json could not promise. The CRC catches flipped or zeroed data bytes,
// which the format itself cannot.
//
// Writing is atomic: a temporary file in the same directory, fsync, rename over the
// target, fsync of the directory. A crash leaves the old checkpoint or the new one, never a
// mix; a failed write removes its temporary file.
//
// Failure: a missing file throws std::invalid_argument naming the path. Anything wrong in
// a file (truncated, header not JSON, offsets out of range / overlapping / leaving gaps,
// dtype other than F32, shape not matching the byte count, CRC mismatch, metadata not
// JSON, header or metadata nested deeper than 64 levels) throws std::runtime_error naming the file and the problem; no input crashes the
// reader. Invalid tensors handed to the writer (empty or duplicate names, negative
// dimensions) throw std::invalid_argument; I/O failures std::runtime_error.
// Thread safety: free functions without shared state; concurrent writers to the SAME path
// each produce a whole file and the last rename wins.
//
// rnnlab's own checkpoints (what the trainer writes) are recognised by ONE check,
// require_rnnlab_checkpoint(), and found by ONE rule, checkpoint_path(dir): a run's
// checkpoint is `<output.dir>/checkpoint.safetensors`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace rnnlab::trainer {

// A tensor to write; `data` (product of `shape` floats) is borrowed until the call returns.
struct TensorRef {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;
};

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// The contents of a safetensors file, tensors in file (offset) order.
struct SafetensorsData {
  std::vector<Tensor> tensors;
  std::map<std::string, std::string> metadata;  // __metadata__

  const Tensor* find(std::string_view name) const;  // nullptr when absent
};

struct Checkpoint {
  std::vector<Tensor> tensors;
  nlohmann::json metadata;  // the trainer's document (null when the file had none)
  std::string path;         // for error messages

  const Tensor* find(std::string_view name) const;  // nullptr when absent
  // Copies tensor `name` into dst (product of `shape` floats) after checking it exists and
  // has exactly `shape`; throws std::runtime_error naming the checkpoint, tensor and
  // shapes otherwise (e.g. a checkpoint of another model size).
  void copy_to(std::string_view name, const std::vector<int64_t>& shape, float* dst) const;
};

// The file name of a run's checkpoint in its output directory, and the value of the
// trainer document's "format" key.
inline constexpr const char* kCheckpointFileName = "checkpoint.safetensors";
inline constexpr const char* kCheckpointFormat = "rnnlab-checkpoint";

// `<dir>/checkpoint.safetensors`.
std::string checkpoint_path(const std::string& dir);
// What a command line's CHECKPOINT argument names: a path ending in .safetensors as given,
// else a run's output directory (its checkpoint_path).
std::string resolve_checkpoint_argument(const std::string& path_or_dir);
// The trainer's document of `checkpoint` after checking that it is one rnnlab wrote
// (format "rnnlab-checkpoint") and that it has every key in `required` ("config" must be
// the stored config's text); throws std::invalid_argument "<path>: not an rnnlab checkpoint
// (no rnnlab metadata)" otherwise, or "... lacks '<key>'" for a missing key.
const nlohmann::json& require_rnnlab_checkpoint(const Checkpoint& checkpoint,
                                                std::initializer_list<const char*> required = {});

void save_checkpoint(const std::string& path, const std::vector<TensorRef>& tensors,
                     const nlohmann::json& metadata);
Checkpoint load_checkpoint(const std::string& path);
// The two halves of load_checkpoint, for a data-parallel resume in which rank 0 reads the
// file and broadcasts its bytes (the other ranks need not see rank 0's file system).
std::string read_checkpoint_bytes(const std::string& path);  // invalid_argument if unreadable
Checkpoint parse_checkpoint(std::string_view bytes, const std::string& path);

// The layers underneath, exposed for tests and tools.
std::string encode_safetensors(const std::vector<TensorRef>& tensors,
                               const std::map<std::string, std::string>& metadata);
// `source` names the bytes in error messages.
SafetensorsData decode_safetensors(std::string_view bytes, const std::string& source);
// Writes `bytes` to `path` atomically (see above); throws std::runtime_error on failure.
void write_file_atomically(const std::string& path, std::string_view bytes);
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);  // zlib's crc32

}  // namespace rnnlab::trainer
