// safetensors reader/writer: round trip, sharded index, and hostile headers.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/error.h"
#include "loader/safetensors.h"

namespace fs = std::filesystem;
using namespace strata;

namespace {

std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> f(8 + header.size() + data_bytes, 0);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) f[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(f.data() + 8, header.data(), header.size());
  return f;
}

void expect_error(const std::vector<uint8_t>& f, const std::string& fragment) {
  try {
    SafetensorsFile::parse(f.data(), f.size(), "t.safetensors");
    FAIL() << "no error, expected: " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

fs::path temp_dir(const char* tag) {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() / fmt::format("strata_{}_{}", tag, rd());
  fs::create_directories(p);
  return p;
}

}  // namespace

TEST(SafetensorsReader, ParsesValidHeader) {
  auto f = make_file(
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2,3],"data_offsets":[16,28]},)"
      R"("a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
      28);
  auto st = SafetensorsFile::parse(f.data(), f.size(), "x");
  ASSERT_EQ(st.tensors().size(), 2u);
  EXPECT_EQ(st.tensors()[0].name, "a");  // sorted by offset
  EXPECT_EQ(st.tensors()[1].type, TensorType::BF16);
  EXPECT_EQ(st.tensors()[1].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(st.tensors()[1].offset, st.data_offset() + 16);
  EXPECT_EQ(st.user_metadata().at("format"), "pt");
}

TEST(SafetensorsReader, RejectsHostileHeaders) {
  std::vector<uint8_t> tiny = {1, 2, 3};
  expect_error(tiny, "not a safetensors file");
  auto big = make_file("{}", 0);
  big[7] = 0x7f;  // header length far beyond the file
  expect_error(big, "exceeds the file size");
  expect_error(make_file("{\"a\":", 0), "malformed");
  expect_error(make_file("[1,2]", 0), "not a JSON object");
  expect_error(make_file(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8), "unsupported dtype");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8), "outside the data section");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "shape and dtype need");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", 8), "non-negative");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "outside");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "data_offsets");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8), "too large");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
               "overlap");
  expect_error(make_file(R"({"__metadata__":{"k":1}})", 0), "not a string");
}

TEST(SafetensorsWriter, RoundTripsThroughTheReader) {
  fs::path dir = temp_dir("st_rt");
  std::string path = (dir / "m.safetensors").string();
  {
    SafetensorsWriter w;
    w.set_metadata("format", "pt");
    w.add_tensor("x", TensorType::F32, {2, 2});
    w.add_tensor("y", TensorType::F16, {3});
    w.begin(path);
    float x[4] = {1, 2, 3, 4};
    w.write_tensor_data("x", x, 8);
    w.write_tensor_data("x", x + 2, 8);
    EXPECT_THROW(w.write_tensor_data("x", x, 4), Error);  // more bytes than the tensor has
    uint16_t y[3] = {0x3c00, 0x4000, 0x4200};
    w.write_tensor_data("y", y, 6);
    w.finish();
  }
  auto st = SafetensorsFile::open(path);
  ASSERT_EQ(st.tensors().size(), 2u);
  EXPECT_EQ(st.data_offset() % 8, 0u);
  MappedFile m = st.release_mapping();
  const auto& x = st.tensors()[0];
  float got[4];
  std::memcpy(got, m.data() + x.offset, 16);
  EXPECT_EQ(got[3], 4.0f);
  EXPECT_EQ(st.tensors()[1].nbytes, 6u);
  fs::remove_all(dir);
}

TEST(SafetensorsWriter, RejectsMisuse) {
  SafetensorsWriter w;
  EXPECT_THROW(w.add_tensor("q", TensorType::Q4_K, {256}), Error);
  w.add_tensor("a", TensorType::F32, {1});
  EXPECT_THROW(w.add_tensor("a", TensorType::F32, {1}), Error);
  EXPECT_THROW(w.add_tensor("z", TensorType::F32, {0}), Error);
}

TEST(SafetensorsIndex, ReadsShardsAndRejectsPathTricks) {
  fs::path dir = temp_dir("st_idx");
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "i.json") << text;
    return (dir / "i.json").string();
  };
  auto idx = read_safetensors_index(write(R"({"metadata":{},"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors","c":"m-1.safetensors"}})"));
  EXPECT_EQ(idx.shards, (std::vector<std::string>{"m-1.safetensors", "m-2.safetensors"}));
  EXPECT_EQ(idx.weight_map.at("b"), "m-2.safetensors");
  EXPECT_THROW(read_safetensors_index(write(R"({"weight_map":{"a":"../evil.safetensors"}})")), Error);
  EXPECT_THROW(read_safetensors_index(write(R"({"weight_map":{}})")), Error);
  EXPECT_THROW(read_safetensors_index(write(R"({"nope":1})")), Error);
  EXPECT_THROW(read_safetensors_index(write("{")), Error);
  EXPECT_THROW(read_safetensors_index((dir / "missing.json").string()), Error);
  fs::remove_all(dir);
}

TEST(SafetensorsReader, TruncatedAndMutatedFilesFailCleanly) {
  auto good = make_file(R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[2,4],"data_offsets":[0,16]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})",
                        24);
  ASSERT_NO_THROW(SafetensorsFile::parse(good.data(), good.size(), "good"));
  // Every truncation either still parses (data past the last tensor dropped) or throws Error.
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> t(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    try {
      auto st = SafetensorsFile::parse(t.data(), t.size(), "t");
      for (const auto& x : st.tensors()) EXPECT_LE(x.offset + x.nbytes, t.size());
    } catch (const Error&) {
    }
  }
  std::mt19937 rng(1234);
  for (int i = 0; i < 3000; ++i) {
    auto m = good;
    for (int k = 0; k < 3; ++k) m[rng() % m.size()] = static_cast<uint8_t>(rng());
    try {
      auto st = SafetensorsFile::parse(m.data(), m.size(), "m");
      for (const auto& x : st.tensors()) EXPECT_LE(x.offset + x.nbytes, m.size());
    } catch (const Error&) {
    }
  }
}
