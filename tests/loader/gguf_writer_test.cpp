// GgufWriter: byte-exact output (checked against bytes encoded by hand from the spec), round trip
// of every metadata type and tensor data through the reader, streaming, and error handling.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <type_traits>
#include <variant>
#include <fstream>
#include <limits>
#include <numeric>

#include "common/error.h"
#include "loader/gguf.h"
#include "loader/gguf_writer.h"
#include "tests/loader/test_support.h"

namespace strata {

namespace {

namespace fs = std::filesystem;

// A unique path under the temp dir, removed at scope end.
class TempFile {
 public:
  explicit TempFile(const std::string& stem) {
    path_ = (fs::temp_directory_path() /
             (stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".gguf"))
                .string();
  }
  ~TempFile() { std::error_code ec; fs::remove(path_, ec); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

using Bytes = strata::test::ByteWriter;

// Deep equality including GGUF types (MetaValue has no operator==).
bool same(const MetaValue& a, const MetaValue& b) {
  if (a.type != b.type || a.value.index() != b.value.index()) return false;
  if (a.type != MetaType::Array) {
    return std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, MetaArray>) {
            return false;
          } else {
            return x == std::get<T>(b.value);
          }
        },
        a.value);
  }
  const MetaArray& x = std::get<MetaArray>(a.value);
  const MetaArray& y = std::get<MetaArray>(b.value);
  if (a.array_type != b.array_type || x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!same(x[i], y[i])) return false;
  }
  return true;
}

bool same(const Metadata& a, const Metadata& b) {
  if (a.all().size() != b.all().size()) return false;
  for (const auto& [key, v] : a.all()) {
    const MetaValue* w = b.find(key);
    if (w == nullptr || !same(v, *w)) return false;
  }
  return true;
}

MetaValue scalar(MetaType t, uint64_t v) { return {t, v}; }
MetaValue iscalar(MetaType t, int64_t v) { return {t, v}; }
MetaValue fscalar(MetaType t, double v) { return {t, v}; }

TEST(GgufWriter, OutputIsByteExactPerSpec) {
  TempFile tmp("strata-exact");
  GgufWriter w;
  w.add_metadata("general.architecture", MetaValue::str("llama"));
  w.add_metadata("a.u16", scalar(MetaType::U16, 0xBEEF));
  w.add_metadata("a.arr", MetaValue::array(MetaType::I32, {MetaValue::i32(-1), MetaValue::i32(7)}));
  w.add_tensor("t0", TensorType::F32, {3});
  w.add_tensor("t1", TensorType::Q8_0, {32, 2});
  w.begin(tmp.path());
  const float t0[3] = {1.0f, 2.0f, 3.0f};
  std::vector<uint8_t> t1(68);
  std::iota(t1.begin(), t1.end(), uint8_t{0});
  w.write_tensor_data("t0", t0, sizeof(t0));
  w.write_tensor_data("t1", t1.data(), t1.size());
  w.finish();

  Bytes e;
  e.put<uint32_t>(0x46554747).put<uint32_t>(3).put<uint64_t>(2).put<uint64_t>(3);
  e.str("general.architecture").put<uint32_t>(8).str("llama");
  e.str("a.u16").put<uint32_t>(2).put<uint16_t>(0xBEEF);
  e.str("a.arr").put<uint32_t>(9).put<uint32_t>(5).put<uint64_t>(2).put<int32_t>(-1).put<int32_t>(7);
  e.str("t0").put<uint32_t>(1).put<uint64_t>(3).put<uint32_t>(0).put<uint64_t>(0);
  e.str("t1").put<uint32_t>(2).put<uint64_t>(32).put<uint64_t>(2).put<uint32_t>(8).put<uint64_t>(32);
  e.zeros((32 - e.b.size() % 32) % 32);
  const size_t data_start = e.b.size();
  for (float f : t0) e.put<float>(f);
  e.zeros(20);
  e.b.insert(e.b.end(), t1.begin(), t1.end());
  e.zeros(28);

  EXPECT_EQ(w.data_offset(), data_start);
  EXPECT_EQ(w.file_size(), e.b.size());
  EXPECT_EQ(read_all(tmp.path()), e.b);
}

TEST(GgufWriter, EveryMetadataTypeRoundTrips) {
  TempFile tmp("strata-meta");
  Metadata in;
  in.set("u8", scalar(MetaType::U8, 255));
  in.set("i8", iscalar(MetaType::I8, -128));
  in.set("u16", scalar(MetaType::U16, 65535));
  in.set("i16", iscalar(MetaType::I16, -32768));
  in.set("u32", MetaValue::u32(0xFFFFFFFFu));
  in.set("i32", MetaValue::i32(std::numeric_limits<int32_t>::min()));
  in.set("u64", MetaValue::u64(std::numeric_limits<uint64_t>::max()));
  in.set("i64", iscalar(MetaType::I64, std::numeric_limits<int64_t>::min()));
  in.set("f32", MetaValue::f32(1.5f));
  in.set("f64", fscalar(MetaType::F64, 3.141592653589793));
  in.set("bool.t", MetaValue::boolean(true));
  in.set("bool.f", MetaValue::boolean(false));
  in.set("str", MetaValue::str(std::string("with\0nul and utf-8 \xc3\xa9", 21)));
  in.set("str.empty", MetaValue::str(""));
  in.set("arr.str", MetaValue::array(MetaType::String, {MetaValue::str("a"), MetaValue::str("")}));
  in.set("arr.f32", MetaValue::array(MetaType::F32, {MetaValue::f32(-0.25f), MetaValue::f32(8.0f)}));
  in.set("arr.u8", MetaValue::array(MetaType::U8, {scalar(MetaType::U8, 0), scalar(MetaType::U8, 9)}));
  in.set("arr.bool", MetaValue::array(MetaType::Bool, {MetaValue::boolean(true)}));
  in.set("arr.empty", MetaValue::array(MetaType::I64, {}));
  in.set("arr.nested",
         MetaValue::array(MetaType::Array,
                          {MetaValue::array(MetaType::U32, {MetaValue::u32(1), MetaValue::u32(2)}),
                           MetaValue::array(MetaType::String, {MetaValue::str("x")})}));
  GgufWriter w;
  w.add_metadata(in);
  w.begin(tmp.path());
  w.finish();

  const GgufFile f = GgufFile::open(tmp.path());
  EXPECT_TRUE(f.tensors().empty());
  const Metadata& out = f.metadata();
  ASSERT_EQ(out.all().size(), in.all().size());
  for (const auto& [key, v] : in.all()) {
    SCOPED_TRACE(key);
    const MetaValue* r = out.find(key);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(same(*r, v));
  }
  const MetaArray& nested = std::get<MetaArray>(out.find("arr.nested")->value);
  EXPECT_EQ(nested[0].array_type, MetaType::U32);
  EXPECT_EQ(nested[1].array_type, MetaType::String);

  // Typed getters over what was read back.
  EXPECT_EQ(out.get_int("u8"), 255);
  EXPECT_EQ(out.get_int("i64"), std::numeric_limits<int64_t>::min());
  EXPECT_THROW(out.get_int("u64"), Error);  // 2^64-1 does not fit in int64
  EXPECT_EQ(out.get_float("f32"), 1.5);
  EXPECT_EQ(out.get_float("u32"), 4294967295.0);
  EXPECT_EQ(out.get_bool("bool.t"), true);
  EXPECT_EQ(out.get_string("str")->size(), 21u);
  EXPECT_EQ(out.get_string_array("arr.str"), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(out.get_float_array("arr.f32"), (std::vector<double>{-0.25, 8.0}));
  EXPECT_EQ(out.get_int_array("arr.u8"), (std::vector<int64_t>{0, 9}));
  EXPECT_EQ(out.get_int_array("arr.empty"), std::vector<int64_t>{});
  EXPECT_THROW(out.get_string_array("arr.nested"), Error);
  EXPECT_EQ(out.get_int("absent"), std::nullopt);
}

TEST(GgufWriter, TensorDataRoundTripsInChunksWithCustomAlignment) {
  for (uint32_t alignment : {1u, 8u, 32u, 4096u}) {
    SCOPED_TRACE(alignment);
    TempFile tmp("strata-data");
    GgufWriter w;
    w.add_tensor("a", TensorType::F16, {5, 3});
    w.add_tensor("b", TensorType::Q4_K, {256, 2, 2});
    w.add_tensor("c", TensorType::MXFP4, {64, 1, 1, 3});
    w.add_metadata("general.alignment", MetaValue::u32(alignment));  // after the tensors on purpose
    EXPECT_EQ(w.alignment(), alignment);
    ASSERT_EQ(w.tensor_nbytes("a"), 30u);
    ASSERT_EQ(w.tensor_nbytes("b"), 4u * 144);
    ASSERT_EQ(w.tensor_nbytes("c"), 3u * 2 * 17);
    std::vector<std::vector<uint8_t>> data;
    for (const char* n : {"a", "b", "c"}) {
      std::vector<uint8_t> d(w.tensor_nbytes(n));
      for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(i * 31 + n[0]);
      data.push_back(std::move(d));
    }
    w.begin(tmp.path());
    const char* names[] = {"a", "b", "c"};
    for (size_t t = 0; t < 3; ++t) {
      // Uneven chunks, including empty ones.
      size_t at = 0;
      for (size_t step = 0; at < data[t].size(); step = (step + 7) % 50) {
        const size_t n = std::min(step, data[t].size() - at);
        w.write_tensor_data(names[t], data[t].data() + at, n);
        at += n;
      }
    }
    w.finish(/*sync=*/true);
    EXPECT_EQ(fs::file_size(tmp.path()), w.file_size());

    const GgufFile f = GgufFile::open(tmp.path());
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.data_offset(), w.data_offset());
    ASSERT_EQ(f.tensors().size(), 3u);
    for (size_t t = 0; t < 3; ++t) {
      const GgufTensorInfo& info = f.tensors()[t];
      EXPECT_EQ(info.name, names[t]);
      EXPECT_EQ(info.offset % alignment, 0u);
      ASSERT_EQ(info.nbytes, data[t].size());
      EXPECT_EQ(std::memcmp(f.data() + info.offset, data[t].data(), info.nbytes), 0);
    }
    EXPECT_EQ(f.tensors()[1].type, TensorType::Q4_K);
    EXPECT_EQ(f.tensors()[1].n_dims, 3);
    EXPECT_EQ(f.tensors()[2].ne, (std::array<int64_t, 4>{64, 1, 1, 3}));
  }
}

TEST(GgufWriter, GoldenModelRewritesToAnEquivalentFile) {
  const std::string src = std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-q4_k/model.gguf";
  const GgufFile in = GgufFile::open(src);
  TempFile tmp("strata-rewrite");
  GgufWriter w;
  w.add_metadata(in.metadata());
  for (const GgufTensorInfo& t : in.tensors()) {
    w.add_tensor(t.name, t.type, std::span<const int64_t>(t.ne.data(), static_cast<size_t>(t.n_dims)));
  }
  w.begin(tmp.path());
  for (const GgufTensorInfo& t : in.tensors()) w.write_tensor_data(t.name, in.data() + t.offset, t.nbytes);
  w.finish();

  const GgufFile out = GgufFile::open(tmp.path());
  EXPECT_TRUE(same(out.metadata(), in.metadata()));
  ASSERT_EQ(out.tensors().size(), in.tensors().size());
  for (size_t i = 0; i < in.tensors().size(); ++i) {
    const GgufTensorInfo& a = in.tensors()[i];
    const GgufTensorInfo& b = out.tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.ne, b.ne);
    EXPECT_EQ(a.n_dims, b.n_dims);
    ASSERT_EQ(a.nbytes, b.nbytes);
    EXPECT_EQ(std::memcmp(in.data() + a.offset, out.data() + b.offset, a.nbytes), 0) << a.name;
  }
}

// gguf-py (llama.cpp's Python writer) made the golden files; written again in the same order by
// our writer they must come out byte for byte identical, padding included.
TEST(GgufWriter, RewritingGoldenFilesInFileOrderIsByteIdentical) {
  for (const char* model : {"qwen3moe-f32", "qwen3moe-q4_k", "qwen3moe-mxfp4", "qwen2moe-f32"}) {
    SCOPED_TRACE(model);
    const std::string src = std::string(STRATA_SHARED_DIR) + "/golden/" + model + "/model.gguf";
    const GgufFile in = GgufFile::open(src);
    ASSERT_EQ(in.metadata_keys().size(), in.metadata().all().size());
    TempFile tmp("strata-identical");
    GgufWriter w;
    for (const std::string& key : in.metadata_keys()) w.add_metadata(key, *in.metadata().find(key));
    for (const GgufTensorInfo& t : in.tensors()) {
      w.add_tensor(t.name, t.type,
                   std::span<const int64_t>(t.ne.data(), static_cast<size_t>(t.n_dims)));
    }
    w.begin(tmp.path());
    for (const GgufTensorInfo& t : in.tensors()) {
      w.write_tensor_data(t.name, in.data() + t.offset, t.nbytes);
    }
    w.finish();
    const std::vector<uint8_t> ours = read_all(tmp.path());
    const std::vector<uint8_t> theirs(in.data(), in.data() + in.size());
    ASSERT_EQ(ours.size(), theirs.size());
    size_t first_diff = 0;
    while (first_diff < ours.size() && ours[first_diff] == theirs[first_diff]) ++first_diff;
    EXPECT_EQ(first_diff, ours.size()) << "files differ from byte " << first_diff;
  }
}

// Vocab-only files from llama.cpp end right after the header; ours add the padding to the data
// section start and are otherwise identical.
TEST(GgufWriter, RewritingVocabFilesMatchesUpToTrailingPadding) {
  for (const char* vocab : {"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"}) {
    SCOPED_TRACE(vocab);
    const GgufFile in = GgufFile::open(std::string(STRATA_SHARED_DIR) + "/vocab/" + vocab);
    TempFile tmp("strata-vocab");
    GgufWriter w;
    for (const std::string& key : in.metadata_keys()) w.add_metadata(key, *in.metadata().find(key));
    w.begin(tmp.path());
    w.finish();
    const std::vector<uint8_t> ours = read_all(tmp.path());
    ASSERT_EQ(ours.size(), in.data_offset());
    ASSERT_GE(ours.size(), in.size());
    EXPECT_EQ(std::memcmp(ours.data(), in.data(), in.size()), 0);
    EXPECT_TRUE(std::all_of(ours.begin() + static_cast<std::ptrdiff_t>(in.size()), ours.end(),
                            [](uint8_t b) { return b == 0; }));
  }
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error, expected one containing: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(GgufWriter, RejectsBadMetadata) {
  GgufWriter w;
  w.add_metadata("k", MetaValue::u32(1));
  expect_error([&] { w.add_metadata("k", MetaValue::u32(2)); }, "duplicate metadata key 'k'");
  expect_error([&] { w.add_metadata("x", scalar(MetaType::U8, 256)); }, "out of range");
  expect_error([&] { w.add_metadata("x", iscalar(MetaType::I16, 40000)); }, "out of range");
  expect_error([&] { w.add_metadata("x", {MetaType::U32, std::string("s")}); }, "unsigned value");
  expect_error([&] { w.add_metadata("x", {MetaType::F32, true}); }, "double value");
  expect_error([&] { w.add_metadata("x", {static_cast<MetaType>(13), uint64_t{0}}); },
               "unknown value type");
  expect_error([&] { w.add_metadata("x", MetaValue::array(MetaType::U32, {MetaValue::i32(1)})); },
               "differs");
  MetaValue deep = MetaValue::array(MetaType::U8, {});
  for (int i = 0; i < 8; ++i) deep = MetaValue::array(MetaType::Array, {deep});
  expect_error([&] { w.add_metadata("x", deep); }, "nested too deeply");
  expect_error([&] { w.add_metadata("general.alignment", MetaValue::u32(24)); }, "power of two");
  expect_error([&] { w.add_metadata("general.alignment", MetaValue::u32(0)); }, "power of two");
  expect_error([&] { w.add_metadata("general.alignment", MetaValue::i32(32)); },
               "unsigned integer");
}

TEST(GgufWriter, RejectsBadTensors) {
  GgufWriter w;
  w.add_tensor("t", TensorType::F32, {4});
  expect_error([&] { w.add_tensor("t", TensorType::F32, {4}); }, "duplicate tensor name 't'");
  expect_error([&] { w.add_tensor("", TensorType::F32, {4}); }, "empty name");
  expect_error([&] { w.add_tensor("u", TensorType::F32, {}); }, "0 dimensions");
  expect_error([&] { w.add_tensor("u", TensorType::F32, {1, 1, 1, 1, 1}); }, "5 dimensions");
  expect_error([&] { w.add_tensor("u", TensorType::F32, {4, 0}); }, "size 0");
  expect_error([&] { w.add_tensor("u", TensorType::Q4_K, {128}); }, "block size");
  expect_error([&] { w.add_tensor("u", TensorType::F32, {int64_t{1} << 40, int64_t{1} << 30}); },
               "overflows");
  expect_error([&] { w.add_tensor("u", static_cast<TensorType>(3), {32}); }, "unknown type id 3");
}

TEST(GgufWriter, EnforcesStreamingOrderAndSizes) {
  TempFile tmp("strata-order");
  GgufWriter w;
  w.add_tensor("a", TensorType::F32, {2});
  w.add_tensor("b", TensorType::F32, {2});
  const float v[2] = {1, 2};
  expect_error([&] { w.write_tensor_data("a", v, 8); }, "before begin()");
  expect_error([&] { w.finish(); }, "before begin()");
  w.begin(tmp.path());
  expect_error([&] { w.add_tensor("c", TensorType::F32, {2}); }, "after begin()");
  expect_error([&] { w.add_metadata("k", MetaValue::u32(1)); }, "after begin()");
  expect_error([&] { w.write_tensor_data("b", v, 8); }, "declaration order");
  expect_error([&] { w.write_tensor_data("a", v, 12); }, "more than its size 8");
  w.write_tensor_data("a", v, 4);
  expect_error([&] { w.finish(); }, "tensor 'a' got only 4 of its 8 bytes");
  w.write_tensor_data("a", v + 1, 4);
  expect_error([&] { w.write_tensor_data("a", v, 4); }, "declaration order");
  expect_error([&] { w.finish(); }, "tensor 'b' got only 0 of its 8 bytes");
  w.write_tensor_data("b", v, 8);
  expect_error([&] { w.write_tensor_data("b", v, 1); }, "after every tensor is complete");
  w.finish();
  expect_error([&] { w.finish(); }, "called twice");
  EXPECT_EQ(GgufFile::open(tmp.path()).tensors().size(), 2u);
}

TEST(GgufWriter, IoErrorsNameThePath) {
  GgufWriter w;
  w.add_tensor("a", TensorType::F32, {4});
  expect_error([&] { w.begin("/nonexistent-dir/x.gguf"); }, "/nonexistent-dir/x.gguf: cannot create");

  // /dev/full fails every write with ENOSPC: the error must surface, naming the path.
  if (fs::exists("/dev/full")) {
    GgufWriter full;
    full.add_tensor("a", TensorType::F32, {1 << 20});  // 4 MiB: more than any stdio buffer
    full.begin("/dev/full");
    std::vector<float> zeros(1 << 20);
    expect_error(
        [&] {
          full.write_tensor_data("a", zeros.data(), zeros.size() * sizeof(float));
          full.finish();
        },
        "/dev/full");
  }
}

}  // namespace
}  // namespace strata
