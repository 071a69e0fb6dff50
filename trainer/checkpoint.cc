#include "trainer/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace rnnlab::trainer {
namespace {

static_assert(sizeof(float) == 4, "safetensors F32 is 4 bytes");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this writer copies floats as they are in memory"
#endif

// The reference implementation refuses headers over 100 MB; so do we, before allocating.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;
constexpr const char* kMetadataKey = "__metadata__";
// nlohmann's parser keeps its own stack, but dump() (error messages) and the readers of the
// trainer's document recurse once per level: a header of 10^6 nested '[' overflowed the
// stack. Our header nests 3 deep and the document a few levels.
constexpr int kMaxJsonNesting = 64;

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Product of dimensions, or -1 when a dimension is negative or the product passes 2^40
// elements (4 TiB, far past anything a file here can hold).
int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return -1;
    if (dim != 0 && count > (int64_t(1) << 40) / dim) return -1;
    count *= dim;
  }
  return count;
}

[[noreturn]] void corrupt(const std::string& source, const std::string& problem) {
  throw std::runtime_error("checkpoint '" + source + "': " + problem);
}

// Parses JSON `text` (`what` names it in messages) after checking that no array or object
// sits deeper than kMaxJsonNesting; brackets inside strings do not count.
nlohmann::json parse_json(std::string_view text, const std::string& source, const std::string& what) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonNesting)
        corrupt(source, what + ": nesting deeper than " + std::to_string(kMaxJsonNesting) + " levels");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    corrupt(source, what + " is not valid JSON: " + error.what());
  }
}

[[noreturn]] void io_error(const std::string& path, const std::string& call) {
  throw std::runtime_error("checkpoint '" + path + "': " + call + " failed: " + std::strerror(errno));
}

// write_file_atomically writes checkpoints and other files (metrics.jsonl): name the file only.
[[noreturn]] void write_error(const std::string& path, const std::string& call) {
  throw std::runtime_error("writing '" + path + "': " + call + " failed: " + std::strerror(errno));
}

std::string parent_directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

uint32_t crc32(const void* data, size_t size, uint32_t crc) {
  static const auto table = [] {
    std::vector<uint32_t> entries(256);
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t value = i;
      for (int bit = 0; bit < 8; ++bit) value = (value & 1) ? 0xEDB88320u ^ (value >> 1) : value >> 1;
      entries[i] = value;
    }
    return entries;
  }();
  const auto* bytes = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

const Tensor* SafetensorsData::find(std::string_view name) const {
  for (const Tensor& tensor : tensors)
    if (tensor.name == name) return &tensor;
  return nullptr;
}

const Tensor* Checkpoint::find(std::string_view name) const {
  for (const Tensor& tensor : tensors)
    if (tensor.name == name) return &tensor;
  return nullptr;
}

void Checkpoint::copy_to(std::string_view name, const std::vector<int64_t>& shape, float* dst) const {
  const Tensor* tensor = find(name);
  if (!tensor) corrupt(path, "no tensor '" + std::string(name) + "'");
  if (tensor->shape != shape)
    corrupt(path, "tensor '" + std::string(name) + "' has shape " + shape_text(tensor->shape) +
                      ", expected " + shape_text(shape));
  std::copy(tensor->data.begin(), tensor->data.end(), dst);
}

std::string encode_safetensors(const std::vector<TensorRef>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const TensorRef& tensor : tensors) {
    if (tensor.name.empty() || tensor.name == kMetadataKey)
      throw std::invalid_argument("checkpoint: invalid tensor name '" + tensor.name + "'");
    if (header.contains(tensor.name))
      throw std::invalid_argument("checkpoint: duplicate tensor name '" + tensor.name + "'");
    const int64_t count = element_count(tensor.shape);
    if (count < 0)
      throw std::invalid_argument("checkpoint: tensor '" + tensor.name + "' has invalid shape " +
                                  shape_text(tensor.shape));
    if (count > 0 && !tensor.data)
      throw std::invalid_argument("checkpoint: tensor '" + tensor.name + "' has no data");
    const uint64_t bytes = uint64_t(count) * 4;
    header[tensor.name] = {{"dtype", "F32"}, {"shape", tensor.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::string header_text = header.dump();
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + header_text.size() + offset);
  const uint64_t length = header_text.size();
  for (int byte = 0; byte < 8; ++byte) out.push_back(char((length >> (8 * byte)) & 0xFF));
  out += header_text;
  for (const TensorRef& tensor : tensors)
    out.append(reinterpret_cast<const char*>(tensor.data), size_t(element_count(tensor.shape)) * 4);
  return out;
}

SafetensorsData decode_safetensors(std::string_view bytes, const std::string& source) {
  // 1. Header length and header.
  if (bytes.size() < 8)
    corrupt(source, "file is " + std::to_string(bytes.size()) + " bytes, too short for a safetensors header (truncated?)");
  uint64_t header_length = 0;
  for (int byte = 0; byte < 8; ++byte) header_length |= uint64_t(uint8_t(bytes[size_t(byte)])) << (8 * byte);
  if (header_length > kMaxHeaderBytes)
    corrupt(source, "header length " + std::to_string(header_length) + " is over the 100 MB limit (not a safetensors file?)");
  if (header_length > bytes.size() - 8)
    corrupt(source, "header length " + std::to_string(header_length) + " runs past the end of the " +
                        std::to_string(bytes.size()) + "-byte file (truncated?)");
  const nlohmann::json header = parse_json(bytes.substr(8, size_t(header_length)), source, "header");
  if (!header.is_object()) corrupt(source, "header is not a JSON object");
  const std::string_view data = bytes.substr(8 + size_t(header_length));

  // 2. Every entry, checked before any data is touched.
  SafetensorsData result;
  struct Span {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      if (!entry.is_object()) corrupt(source, "__metadata__ is not a JSON object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) corrupt(source, "__metadata__ '" + key + "' is not a string");
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!entry.is_object()) corrupt(source, where + "entry is not a JSON object");
    if (entry.size() != 3 || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      corrupt(source, where + "entry must have exactly dtype, shape and data_offsets");
    const auto& dtype = entry["dtype"];
    if (!dtype.is_string()) corrupt(source, where + "dtype is not a string");
    if (dtype.get<std::string>() != "F32")
      corrupt(source, where + "dtype '" + dtype.get<std::string>() + "' is not supported (only F32)");
    const auto& shape_json = entry["shape"];
    if (!shape_json.is_array()) corrupt(source, where + "shape is not a list");
    std::vector<int64_t> shape;
    for (const auto& dim : shape_json) {
      if (!dim.is_number_unsigned() || dim.get<uint64_t>() > (uint64_t(1) << 40))
        corrupt(source, where + "shape " + shape_json.dump() + " has an invalid dimension");
      shape.push_back(int64_t(dim.get<uint64_t>()));
    }
    const int64_t count = element_count(shape);
    if (count < 0) corrupt(source, where + "shape " + shape_text(shape) + " is too large");
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      corrupt(source, where + "data_offsets must be two non-negative integers");
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end) corrupt(source, where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] run backwards");
    if (end > data.size())
      corrupt(source, where + "data ends at byte " + std::to_string(end) + " but the data section has " +
                          std::to_string(data.size()) + " bytes (truncated?)");
    if (end - begin != uint64_t(count) * 4)
      corrupt(source, where + "shape " + shape_text(shape) + " needs " + std::to_string(count * 4) +
                          " bytes, data_offsets give " + std::to_string(end - begin));
    spans.push_back({begin, end, result.tensors.size()});
    result.tensors.push_back(Tensor{name, std::move(shape), {}});
  }

  // 3. The tensors must tile the data section exactly: no overlap, no gap, nothing after.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (const Span& span : spans) {
    const std::string& name = result.tensors[span.index].name;
    if (span.begin < expected) corrupt(source, "tensor '" + name + "' overlaps the previous tensor's data");
    if (span.begin > expected)
      corrupt(source, "gap of " + std::to_string(span.begin - expected) + " bytes before tensor '" + name + "'");
    expected = span.end;
  }
  if (expected != data.size())
    corrupt(source, std::to_string(data.size() - expected) + " bytes after the last tensor (corrupt header?)");

  // 4. Checksum (our files carry one; files from other writers may not).
  auto crc_entry = result.metadata.find("data_crc32");
  if (crc_entry != result.metadata.end()) {
    char computed[16];
    std::snprintf(computed, sizeof computed, "%08x", crc32(data.data(), data.size()));
    if (crc_entry->second != computed)
      corrupt(source, "data checksum mismatch (crc32 " + std::string(computed) + ", header says " +
                          crc_entry->second + "): the file is corrupt");
  }

  // 5. Copy the data out, in file order.
  std::vector<Tensor> ordered;
  ordered.reserve(spans.size());
  for (const Span& span : spans) {
    Tensor& tensor = result.tensors[span.index];
    tensor.data.resize(size_t((span.end - span.begin) / 4));
    if (!tensor.data.empty()) std::memcpy(tensor.data.data(), data.data() + span.begin, span.end - span.begin);
    ordered.push_back(std::move(tensor));
  }
  result.tensors = std::move(ordered);
  return result;
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  std::string temp = path + ".tmp.XXXXXX";
  const int fd = mkstemp(temp.data());
  if (fd < 0) write_error(path, "creating a temporary file next to it");
  auto fail = [&](const char* call) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    errno = saved;
    write_error(path, call);
  };
  // mkstemp makes the file 0600; a checkpoint is as readable as any other output.
  if (::fchmod(fd, 0644) != 0) fail("fchmod");
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write");
    written += size_t(n);
  }
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    errno = saved;
    write_error(path, "close");
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    errno = saved;
    write_error(path, "rename");
  }
  // The rename is durable only once the directory entry is on disk.
  const int dir = ::open(parent_directory(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir < 0) write_error(path, "opening its directory");
  const int synced = ::fsync(dir);
  const int saved = errno;
  ::close(dir);
  errno = saved;
  if (synced != 0) write_error(path, "fsync of its directory");
}

void save_checkpoint(const std::string& path, const std::vector<TensorRef>& tensors,
                     const nlohmann::json& metadata) {
  std::string bytes = encode_safetensors(tensors, {});
  // The CRC covers the data section, which does not depend on the header: encode once to
  // lay the data out, then again with the checksum in the metadata.
  uint64_t header_length = 0;
  for (int byte = 0; byte < 8; ++byte) header_length |= uint64_t(uint8_t(bytes[size_t(byte)])) << (8 * byte);
  const uint32_t checksum = crc32(bytes.data() + 8 + header_length, bytes.size() - 8 - header_length);
  char crc_text[16];
  std::snprintf(crc_text, sizeof crc_text, "%08x", checksum);
  std::map<std::string, std::string> header_metadata = {{"format", "pt"}, {"data_crc32", crc_text}};
  if (!metadata.is_null()) header_metadata["rnnlab"] = metadata.dump();
  write_file_atomically(path, encode_safetensors(tensors, header_metadata));
}

std::string read_checkpoint_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::invalid_argument("checkpoint '" + path + "': cannot open (missing or unreadable)");
  std::ostringstream buffer;
  buffer << file.rdbuf();
  if (file.bad()) io_error(path, "read");
  return buffer.str();
}

Checkpoint parse_checkpoint(std::string_view bytes, const std::string& path) {
  SafetensorsData contents = decode_safetensors(bytes, path);
  Checkpoint checkpoint;
  checkpoint.path = path;
  checkpoint.tensors = std::move(contents.tensors);
  auto document = contents.metadata.find("rnnlab");
  if (document != contents.metadata.end()) checkpoint.metadata = parse_json(document->second, path, "metadata");
  return checkpoint;
}

Checkpoint load_checkpoint(const std::string& path) { return parse_checkpoint(read_checkpoint_bytes(path), path); }

std::string checkpoint_path(const std::string& dir) {
  return (std::filesystem::path(dir) / kCheckpointFileName).string();
}

std::string resolve_checkpoint_argument(const std::string& path_or_dir) {
  const std::string suffix = ".safetensors";
  const bool file = path_or_dir.size() >= suffix.size() &&
                    path_or_dir.compare(path_or_dir.size() - suffix.size(), suffix.size(), suffix) == 0;
  return file ? path_or_dir : checkpoint_path(path_or_dir);
}

const nlohmann::json& require_rnnlab_checkpoint(const Checkpoint& checkpoint, std::initializer_list<const char*> required) {
  const nlohmann::json& meta = checkpoint.metadata;
  if (!meta.is_object() || meta.value("format", "") != kCheckpointFormat)
    throw std::invalid_argument(checkpoint.path + ": not an rnnlab checkpoint (no rnnlab metadata)");
  for (const char* key : required) {
    const auto it = meta.find(key);
    if (it == meta.end() || (std::string_view(key) == "config" && !it->is_string()))
      throw std::invalid_argument(checkpoint.path + ": not an rnnlab checkpoint (its metadata lacks '" + key + "')");
  }
  return meta;
}

}  // namespace rnnlab::trainer
