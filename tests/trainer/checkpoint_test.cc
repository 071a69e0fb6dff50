// Checkpoints: round trip, atomic replacement, and a reader that turns every malformed
// file (truncations at every byte, random byte flips, hand-made bad headers) into an
// exception naming the file, never a crash. Run under ASan now and then (RNNLAB_SANITIZE).
#include <gtest/gtest.h>
#include <dirent.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "trainer/checkpoint.h"

namespace rnnlab::trainer {
namespace {

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

struct Fixture {
  std::vector<float> weight = std::vector<float>(12), bias = {1.5f, -2.25f, 0.0f}, scalar = {42.0f};
  std::vector<TensorRef> tensors() const {
    return {{"rnn.weight_ih_l0", {3, 4}, weight.data()},
            {"rnn.bias_ih_l0", {3}, bias.data()},
            {"scalar", {}, scalar.data()},
            {"empty", {0, 5}, nullptr}};
  }
  Fixture() {
    for (size_t i = 0; i < weight.size(); ++i) weight[i] = float(std::sin(double(i))) * 1e-3f;
    weight[5] = -0.0f;
    weight[7] = 3.4e38f;
  }
};

nlohmann::json sample_metadata() {
  return {{"step", 1234}, {"epoch", 3}, {"vocabulary", {"<unk>", "a", "\"quoted\"", "\xc3\xa9"}},
          {"rng", {{"seed", 18446744073709551615ull}, {"counter", 99}}}};
}

// A fresh directory, removed with everything in it when the test binary exits.
std::string temp_dir() {
  static std::vector<std::unique_ptr<std::string, void (*)(std::string*)>> made;
  std::string path = testing::TempDir() + "rnnlab_checkpoint_XXXXXX";
  if (!mkdtemp(path.data())) throw std::runtime_error("mkdtemp failed");
  made.emplace_back(new std::string(path), [](std::string* dir) {
    std::filesystem::remove_all(*dir);
    delete dir;
  });
  return path;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* handle = opendir(dir.c_str());
  while (dirent* entry = readdir(handle))
    if (std::strcmp(entry->d_name, ".") && std::strcmp(entry->d_name, "..")) names.push_back(entry->d_name);
  closedir(handle);
  return names;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A safetensors file with `header` as its JSON header and `data` after it.
std::string hand_made(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t length = header.size();
  std::memcpy(out.data(), &length, 8);
  return out + header + data;
}

std::string decode_error(const std::string& bytes) {
  try {
    decode_safetensors(bytes, "bad.safetensors");
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "";
}

TEST(Checkpoint, RoundTripKeepsEveryBitAndTheMetadata) {
  const Fixture fixture;
  const std::string dir = temp_dir(), path = dir + "/model.safetensors";
  save_checkpoint(path, fixture.tensors(), sample_metadata());
  const Checkpoint loaded = load_checkpoint(path);
  ASSERT_EQ(loaded.tensors.size(), 4u);
  EXPECT_EQ(loaded.tensors[0].name, "rnn.weight_ih_l0");  // file order = writing order
  EXPECT_EQ(loaded.tensors[0].shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(0, std::memcmp(loaded.tensors[0].data.data(), fixture.weight.data(), 48));
  EXPECT_TRUE(std::signbit(loaded.tensors[0].data[5]));
  EXPECT_EQ(loaded.find("rnn.bias_ih_l0")->data, fixture.bias);
  EXPECT_EQ(loaded.find("scalar")->shape, std::vector<int64_t>{});
  EXPECT_EQ(loaded.find("scalar")->data, fixture.scalar);
  EXPECT_EQ(loaded.find("empty")->shape, (std::vector<int64_t>{0, 5}));
  EXPECT_TRUE(loaded.find("empty")->data.empty());
  EXPECT_EQ(loaded.find("missing"), nullptr);
  EXPECT_EQ(loaded.metadata, sample_metadata());

  std::vector<float> bias(3);
  loaded.copy_to("rnn.bias_ih_l0", {3}, bias.data());
  EXPECT_EQ(bias, fixture.bias);
  try {
    loaded.copy_to("rnn.bias_ih_l0", {4}, bias.data());
    FAIL() << "no exception";
  } catch (const std::runtime_error& error) {
    EXPECT_CONTAINS(error.what(), "tensor 'rnn.bias_ih_l0' has shape [3], expected [4]");
    EXPECT_CONTAINS(error.what(), path);
  }
  EXPECT_THROW(loaded.copy_to("rnn.weight_hh_l0", {3}, bias.data()), std::runtime_error);
}

TEST(Checkpoint, FileFollowsTheSafetensorsLayout) {
  const Fixture fixture;
  const std::string bytes = encode_safetensors(fixture.tensors(), {{"format", "pt"}});
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  EXPECT_EQ((8 + header_length) % 8, 0u);  // data 8-byte aligned
  const auto header = nlohmann::json::parse(bytes.substr(8, header_length));
  EXPECT_EQ(header["rnn.weight_ih_l0"]["dtype"], "F32");
  EXPECT_EQ(header["rnn.weight_ih_l0"]["shape"], nlohmann::json({3, 4}));
  EXPECT_EQ(header["rnn.weight_ih_l0"]["data_offsets"], nlohmann::json({0, 48}));
  EXPECT_EQ(header["rnn.bias_ih_l0"]["data_offsets"], nlohmann::json({48, 60}));
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  EXPECT_EQ(bytes.size(), 8 + header_length + 64);
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + header_length, 4);
  EXPECT_EQ(first, fixture.weight[0]);
}

TEST(Checkpoint, ReadsFilesFromOtherWritersWithoutChecksum) {
  // Offsets in a different order than the JSON keys, no __metadata__: valid safetensors.
  const float values[3] = {1.0f, 2.0f, 3.0f};
  const std::string data(reinterpret_cast<const char*>(values), 12);
  const SafetensorsData decoded = decode_safetensors(
      hand_made(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                data),
      "other.safetensors");
  ASSERT_EQ(decoded.tensors.size(), 2u);
  EXPECT_EQ(decoded.tensors[0].name, "b");
  EXPECT_EQ(decoded.tensors[0].data, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(decoded.find("a")->data, std::vector<float>{3.0f});
  EXPECT_TRUE(decoded.metadata.empty());
}

TEST(Checkpoint, SaveReplacesAtomicallyAndLeavesNoTemporaryFiles) {
  const Fixture fixture;
  const std::string dir = temp_dir(), path = dir + "/ckpt.safetensors";
  save_checkpoint(path, fixture.tensors(), {{"step", 1}});
  save_checkpoint(path, fixture.tensors(), {{"step", 2}});
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"ckpt.safetensors"});
  EXPECT_EQ(load_checkpoint(path).metadata["step"], 2);
}

TEST(Checkpoint, WriteFailuresNameThePath) {
  const Fixture fixture;
  try {
    save_checkpoint("/nonexistent-dir/x.safetensors", fixture.tensors(), {});
    FAIL() << "no exception";
  } catch (const std::runtime_error& error) {
    EXPECT_CONTAINS(error.what(), "/nonexistent-dir/x.safetensors");
  }
}

TEST(Checkpoint, InvalidTensorsAreRejectedByTheWriter) {
  const float value = 1.0f;
  EXPECT_THROW(encode_safetensors({{"a", {1}, &value}, {"a", {1}, &value}}, {}), std::invalid_argument);
  EXPECT_THROW(encode_safetensors({{"", {1}, &value}}, {}), std::invalid_argument);
  EXPECT_THROW(encode_safetensors({{"__metadata__", {1}, &value}}, {}), std::invalid_argument);
  EXPECT_THROW(encode_safetensors({{"a", {-1}, &value}}, {}), std::invalid_argument);
  EXPECT_THROW(encode_safetensors({{"a", {2}, nullptr}}, {}), std::invalid_argument);
}

TEST(Checkpoint, MissingFileIsAUserError) {
  try {
    load_checkpoint("/nonexistent-dir/none.safetensors");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    EXPECT_CONTAINS(error.what(), "/nonexistent-dir/none.safetensors");
  }
}

TEST(Checkpoint, EveryTruncationIsAnError) {
  const Fixture fixture;
  const std::string dir = temp_dir(), path = dir + "/ckpt.safetensors";
  save_checkpoint(path, fixture.tensors(), sample_metadata());
  const std::string bytes = read_file(path);
  ASSERT_GT(bytes.size(), 300u);
  for (size_t size = 0; size < bytes.size(); ++size)
    EXPECT_THROW(decode_safetensors(std::string_view(bytes).substr(0, size), path), std::runtime_error) << size;
  // Through the file API too, for a few sizes.
  for (size_t size : {size_t(0), size_t(7), size_t(8), bytes.size() / 2, bytes.size() - 1}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(size));
    try {
      load_checkpoint(path);
      ADD_FAILURE() << "no exception at size " << size;
    } catch (const std::runtime_error& error) {
      EXPECT_CONTAINS(error.what(), path);
    }
  }
  // Appended garbage is corruption too.
  EXPECT_CONTAINS(decode_error(bytes + "xx"), "bytes after the last tensor");
}

TEST(Checkpoint, RandomByteFlipsNeverCrashAndDataFlipsAreCaught) {
  const Fixture fixture;
  const std::string dir = temp_dir(), path = dir + "/ckpt.safetensors";
  save_checkpoint(path, fixture.tensors(), sample_metadata());
  const std::string file = read_file(path);
  uint64_t header_length = 0;
  std::memcpy(&header_length, file.data(), 8);
  std::mt19937 random(12345);
  int caught = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    std::string damaged = file;
    const size_t position = random() % damaged.size();
    damaged[position] = char(damaged[position] ^ (1 + random() % 255));
    if (trial % 2) {  // and a second flip half the time
      const size_t second = random() % damaged.size();
      damaged[second] = char(damaged[second] ^ (1 + random() % 255));
    }
    try {
      decode_safetensors(damaged, path);
    } catch (const std::runtime_error&) {
      ++caught;
      continue;
    }
    // Survivors changed a header byte in a way that is still valid (a name, a metadata
    // string, padding); a flip in the data section must never survive the checksum.
    EXPECT_LT(position, 8 + header_length) << "data flip at " << position << " not detected";
  }
  EXPECT_GT(caught, 3000);
}

TEST(Checkpoint, MalformedHeadersNameTheProblem) {
  const std::string four(16, '\0');  // room for 4 floats
  auto entry = [](const std::string& fields) { return R"({"w":{)" + fields + "}}"; };
  EXPECT_CONTAINS(decode_error("short"), "too short");
  EXPECT_CONTAINS(decode_error(hand_made("{not json", "")), "header is not valid JSON");
  EXPECT_CONTAINS(decode_error(hand_made("[1, 2]", "")), "header is not a JSON object");
  std::string huge(8, '\xff');
  EXPECT_CONTAINS(decode_error(huge + "{}"), "over the 100 MB limit");
  std::string long_header(8, '\0');
  long_header[0] = 100;
  EXPECT_CONTAINS(decode_error(long_header + "{}"), "runs past the end");
  EXPECT_CONTAINS(decode_error(hand_made(entry(R"("dtype":"F16","shape":[8],"data_offsets":[0,16])"), four)),
                  "tensor 'w': dtype 'F16' is not supported (only F32)");
  EXPECT_CONTAINS(decode_error(hand_made(entry(R"("dtype":"F32","shape":[3],"data_offsets":[0,16])"), four)),
                  "shape [3] needs 12 bytes, data_offsets give 16");
  EXPECT_CONTAINS(decode_error(hand_made(entry(R"("dtype":"F32","shape":[8],"data_offsets":[0,32])"), four)),
                  "data section has 16 bytes");
  EXPECT_CONTAINS(decode_error(hand_made(entry(R"("dtype":"F32","shape":[-4],"data_offsets":[0,16])"), four)),
                  "invalid dimension");
  EXPECT_CONTAINS(decode_error(hand_made(entry(R"("dtype":"F32","shape":[4],"data_offsets":[16,0])"), four)),
                  "run backwards");
  EXPECT_CONTAINS(decode_error(hand_made(entry(R"("dtype":"F32","shape":[4],"data_offsets":[0])"), four)),
                  "data_offsets must be two non-negative integers");
  EXPECT_CONTAINS(decode_error(hand_made(entry(R"("dtype":"F32","shape":[4])"), four)),
                  "exactly dtype, shape and data_offsets");
  EXPECT_CONTAINS(decode_error(hand_made(entry(R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16])"), four)),
                  "tensor 'w'");
  EXPECT_CONTAINS(decode_error(hand_made(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                                         R"("b":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}})",
                                         four)),
                  "overlaps");
  EXPECT_CONTAINS(decode_error(hand_made(entry(R"("dtype":"F32","shape":[3],"data_offsets":[4,16])"), four)),
                  "gap of 4 bytes");
  EXPECT_CONTAINS(decode_error(hand_made(R"({"__metadata__":{"a":1}})", "")), "__metadata__ 'a' is not a string");
  EXPECT_CONTAINS(decode_error(hand_made(R"({"__metadata__":{"data_crc32":"00000001"}})", "")), "checksum mismatch");
  EXPECT_CONTAINS(decode_error(hand_made(R"({"w":[1]})", "")), "tensor 'w': entry is not a JSON object");
}

TEST(Checkpoint, MetadataThatIsNotJsonIsAnError) {
  const std::string dir = temp_dir(), path = dir + "/ckpt.safetensors";
  write_file_atomically(path, encode_safetensors({}, {{"rnnlab", "{broken"}}));
  try {
    load_checkpoint(path);
    FAIL() << "no exception";
  } catch (const std::runtime_error& error) {
    EXPECT_CONTAINS(error.what(), "metadata is not valid JSON");
  }
}

TEST(Checkpoint, Crc32MatchesZlib) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);  // the standard check value
  EXPECT_EQ(crc32("", 0), 0u);
}

}  // namespace
}  // namespace rnnlab::trainer
