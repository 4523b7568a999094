// Hostile and malformed GGUF input: each must give one strata::Error naming the file and the
// problem, never a crash, an out-of-bounds read (the ASan build checks) or a huge allocation.
// Files are built byte by byte here so every field can be set to any value.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "loader/gguf.h"
#include "loader/gguf_writer.h"
#include "tests/loader/test_support.h"

namespace strata {

namespace {

constexpr uint64_t kHuge = uint64_t{1} << 63;
constexpr const char* kName = "hostile.gguf";

using Bytes = strata::test::ByteWriter;

struct RawTensor {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type = 0;
  uint64_t offset = 0;
};

// A GGUF file with every field under the test's control.
struct RawGguf {
  uint32_t magic = 0x46554747;
  uint32_t version = 3;
  std::optional<uint64_t> tensor_count;  // default: tensors.size()
  std::optional<uint64_t> kv_count;      // default: number of kv() calls
  Bytes kvs;
  uint64_t n_kv = 0;
  std::vector<RawTensor> tensors;
  uint64_t alignment = 32;  // only for laying out the data section; set the key separately
  uint64_t data_bytes = 0;  // zero bytes appended after the aligned header

  // Appends a key with a raw pre-encoded value (type id + payload).
  RawGguf& kv(std::string_view key, uint32_t type, const Bytes& payload) {
    kvs.str(key).put<uint32_t>(type);
    kvs.b.insert(kvs.b.end(), payload.b.begin(), payload.b.end());
    ++n_kv;
    return *this;
  }
  RawGguf& kv_u32(std::string_view key, uint32_t v) { return kv(key, 4, Bytes().put(v)); }
  RawGguf& tensor(std::string name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    tensors.push_back({std::move(name), std::move(ne), type, offset});
    return *this;
  }

  std::vector<uint8_t> bytes() const {
    Bytes out;
    out.put(magic).put(version);
    out.put<uint64_t>(tensor_count.value_or(tensors.size()));
    out.put<uint64_t>(kv_count.value_or(n_kv));
    out.b.insert(out.b.end(), kvs.b.begin(), kvs.b.end());
    for (const RawTensor& t : tensors) {
      out.str(t.name).put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
      for (uint64_t n : t.ne) out.put(n);
      out.put(t.type).put(t.offset);
    }
    out.b.resize((out.b.size() + alignment - 1) / alignment * alignment, 0);
    out.b.resize(out.b.size() + data_bytes, 0);
    return out.b;
  }
};

// Parses from a heap buffer of exactly the file's size, so ASan flags any read past it.
GgufFile parse(const std::vector<uint8_t>& bytes) {
  std::vector<uint8_t> exact(bytes);
  return GgufFile::parse(exact.data(), exact.size(), kName);
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    parse(bytes);
    ADD_FAILURE() << "parsed without error; expected: " << needle;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(std::string(kName) + ": ", 0), 0u) << "message must name the file: " << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

// One F32 tensor of 8 elements at offset 0: the smallest useful valid file.
RawGguf valid_one_tensor() {
  RawGguf g;
  g.tensor("w", {8}, 0, 0);
  g.data_bytes = 32;
  return g;
}

TEST(GgufHostile, BaselineFilesAreValid) {
  const GgufFile f = parse(valid_one_tensor().bytes());
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].nbytes, 32u);
  // No tensors and no padding after the header (vocab-only files may end there).
  Bytes b;
  b.put<uint32_t>(0x46554747).put<uint32_t>(2).put<uint64_t>(0).put<uint64_t>(1);
  b.str("k").put<uint32_t>(8).str("v");
  const GgufFile v2 = parse(b.b);
  EXPECT_EQ(v2.version(), 2u);
  EXPECT_EQ(v2.metadata().get_string("k"), "v");
}

TEST(GgufHostile, EveryTruncationThrows) {
  // A file exercising every value type, a nested array, and tensors with tail padding.
  GgufWriter w;
  w.add_metadata("general.architecture", MetaValue::str("llama"));
  w.add_metadata("u8", {MetaType::U8, uint64_t{7}});
  w.add_metadata("i16", {MetaType::I16, int64_t{-3}});
  w.add_metadata("u64", MetaValue::u64(1ull << 40));
  w.add_metadata("f64", {MetaType::F64, 0.5});
  w.add_metadata("f32", MetaValue::f32(2.5f));
  w.add_metadata("b", MetaValue::boolean(true));
  w.add_metadata("arr", MetaValue::array(MetaType::Array,
                                         {MetaValue::array(MetaType::String, {MetaValue::str("x")}),
                                          MetaValue::array(MetaType::I32, {MetaValue::i32(1)})}));
  w.add_tensor("a", TensorType::F32, {3});
  w.add_tensor("b", TensorType::Q8_0, {32, 2});
  const std::string path = ::testing::TempDir() + "strata-trunc.gguf";
  w.begin(path);
  std::vector<uint8_t> zeros(68);
  w.write_tensor_data("a", zeros.data(), 12);
  w.write_tensor_data("b", zeros.data(), 68);
  w.finish();
  const GgufFile full = GgufFile::open(path);
  const std::vector<uint8_t> bytes(full.data(), full.data() + full.size());
  std::remove(path.c_str());

  const GgufTensorInfo* last = full.find("b");
  ASSERT_NE(last, nullptr);
  const uint64_t needed = last->offset + last->nbytes;  // only the tail padding may be cut
  ASSERT_LT(needed, bytes.size());
  for (uint64_t len = 0; len <= bytes.size(); ++len) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len));
    if (len < needed) {
      EXPECT_THROW(parse(prefix), Error) << "prefix " << len;
    } else {
      EXPECT_NO_THROW(parse(prefix)) << "prefix " << len;
    }
  }
}

TEST(GgufHostile, HeaderProblems) {
  RawGguf g = valid_one_tensor();
  g.magic = 0x46554746;
  expect_error(g.bytes(), "bad magic");
  g = valid_one_tensor();
  g.version = 1;
  expect_error(g.bytes(), "version 1 is not supported");
  g.version = 4;
  expect_error(g.bytes(), "unsupported GGUF version 4");
  g.version = 0x03000000;
  expect_error(g.bytes(), "big-endian");
  expect_error({}, "too small");
  expect_error({'G', 'G', 'U', 'F', 3, 0, 0}, "truncated");
}

TEST(GgufHostile, AbsurdCountsAndLengths) {
  RawGguf g = valid_one_tensor();
  g.kv_count = kHuge;
  expect_error(g.bytes(), "metadata count 9223372036854775808 cannot fit");
  g = valid_one_tensor();
  g.tensor_count = kHuge;
  expect_error(g.bytes(), "tensor count 9223372036854775808 cannot fit");
  g = valid_one_tensor();
  g.tensor_count = 2;  // one more than present: reading runs into the data section's zeros
  EXPECT_THROW(parse(g.bytes()), Error);

  // Key length 2^63.
  Bytes b;
  b.put<uint32_t>(0x46554747).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1).put<uint64_t>(kHuge);
  b.b.resize(b.b.size() + 64, 'k');
  expect_error(b.b, "has length 9223372036854775808");

  // String value length 2^63 and just one past the end.
  g = valid_one_tensor();
  g.kv("s", 8, Bytes().put<uint64_t>(kHuge));
  expect_error(g.bytes(), "metadata 's' has length 9223372036854775808");
  // Tensor name length 2^63.
  g = RawGguf();
  g.tensor_count = 1;
  g.kv("x", 4, Bytes().put<uint32_t>(0).put<uint64_t>(kHuge));  // the tensor name length follows
  g.data_bytes = 64;
  expect_error(g.bytes(), "tensor #0 name has length");
}

TEST(GgufHostile, HugeArraysAreRejectedBeforeAllocating) {
  for (uint32_t elem : {0u /*u8*/, 10u /*u64*/, 8u /*string*/, 9u /*array*/}) {
    SCOPED_TRACE(elem);
    RawGguf g = valid_one_tensor();
    g.kv("arr", 9, Bytes().put<uint32_t>(elem).put<uint64_t>(kHuge));
    expect_error(g.bytes(), "metadata 'arr': array of 9223372036854775808 elements cannot fit");
  }
  // A count only slightly too large for the bytes left: caught by the bound, or by truncation.
  RawGguf g;
  g.alignment = 1;  // no padding after the header, so the array is the last thing in the file
  g.kv("arr", 9, Bytes().put<uint32_t>(6).put<uint64_t>(3).put<float>(1).put<float>(2));
  expect_error(g.bytes(), "'arr'");
}

TEST(GgufHostile, BadValues) {
  RawGguf g = valid_one_tensor();
  g.kv("t", 13, Bytes().put<uint32_t>(0));
  expect_error(g.bytes(), "metadata 't' has unknown value type 13");
  g = valid_one_tensor();
  g.kv("t", 9, Bytes().put<uint32_t>(77).put<uint64_t>(1).put<uint32_t>(0));
  expect_error(g.bytes(), "array of unknown value type 77");
  g = valid_one_tensor();
  g.kv("flag", 7, Bytes().put<uint8_t>(2));
  expect_error(g.bytes(), "bool value 2");
  g = valid_one_tensor();
  g.kv_u32("dup", 1).kv_u32("dup", 2);
  expect_error(g.bytes(), "duplicate metadata key 'dup'");
}

Bytes nested(int levels) {
  Bytes b;
  for (int i = 0; i < levels - 1; ++i) b.put<uint32_t>(9).put<uint64_t>(1);
  b.put<uint32_t>(0).put<uint64_t>(1).put<uint8_t>(42);
  return b;
}

TEST(GgufHostile, ArrayNestingIsLimited) {
  RawGguf ok = valid_one_tensor();
  ok.kv("deep", 9, nested(8));
  const GgufFile f = parse(ok.bytes());
  const MetaValue* v = f.metadata().find("deep");
  for (int i = 0; i < 7; ++i) v = &std::get<MetaArray>(v->value).at(0);
  EXPECT_EQ(v->array_type, MetaType::U8);
  EXPECT_THROW(f.metadata().get_int_array("deep"), Error);  // an array of arrays, not of ints

  RawGguf bad = valid_one_tensor();
  bad.kv("deep", 9, nested(9));
  expect_error(bad.bytes(), "nested deeper than 8");
}

TEST(GgufHostile, BadAlignment) {
  for (uint32_t a : {0u, 3u, 48u}) {
    RawGguf g = valid_one_tensor();
    g.kv_u32("general.alignment", a);
    expect_error(g.bytes(), "general.alignment = " + std::to_string(a) + " is not a power of two");
  }
  RawGguf g = valid_one_tensor();
  g.kv("general.alignment", 10, Bytes().put<uint64_t>(uint64_t{1} << 40));
  expect_error(g.bytes(), "is not a power of two");
  g = valid_one_tensor();
  g.kv("general.alignment", 8, Bytes().str("32"));
  expect_error(g.bytes(), "general.alignment must be an unsigned integer");
  g = valid_one_tensor();
  g.kv("general.alignment", 5, Bytes().put<int32_t>(32));
  expect_error(g.bytes(), "general.alignment must be an unsigned integer");

  // A valid non-default alignment moves the data section and governs offset checks.
  g = RawGguf();
  g.kv_u32("general.alignment", 64);
  g.alignment = 64;
  g.tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 64);
  g.data_bytes = 128;
  const GgufFile f = parse(g.bytes());
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.find("b")->offset, f.data_offset() + 64);
  g.tensors[1].offset = 32;
  expect_error(g.bytes(), "tensor 'b' data offset 32 is not a multiple of the alignment 64");
}

TEST(GgufHostile, BadTensorInfos) {
  auto with = [](RawTensor t, uint64_t data_bytes = 64) {
    RawGguf g;
    g.tensors.push_back(std::move(t));
    g.data_bytes = data_bytes;
    return g.bytes();
  };
  expect_error(with({"w", {1, 1, 1, 1, 1}, 0, 0}), "tensor 'w' has 5 dimensions");
  expect_error(with({"w", {}, 0, 0}), "tensor 'w' has 0 dimensions");
  expect_error(with({"w", {8, 0}, 0, 0}), "tensor 'w' has invalid size 0 in dimension 1");
  expect_error(with({"w", {kHuge}, 0, 0}), "invalid size 9223372036854775808 in dimension 0");
  expect_error(with({"w", {uint64_t{1} << 32, uint64_t{1} << 32}, 0, 0}), "element count overflows");
  expect_error(with({"w", {uint64_t{1} << 31, uint64_t{1} << 31}, 0, 0}), "byte size overflows");
  expect_error(with({"w", {32}, 3, 0}), "tensor 'w' has type id 3 (q4_1), which strata does not support");
  expect_error(with({"w", {32}, 4000, 0}), "type id 4000 (unknown)");
  expect_error(with({"w", {31}, 8, 0}), "row of 31 elements is not a multiple of the q8_0 block size 32");
  expect_error(with({"w", {256}, 12, 0}), "ends past end of file");
  expect_error(with({"w", {8}, 0, 16}), "data offset 16 is not a multiple of the alignment 32");
  expect_error(with({"w", {8}, 0, 64}), "tensor 'w' data [");
  expect_error(with({"w", {8}, 0, 0xFFFFFFFFFFFFFFE0ull}), "overflows");
  expect_error(with({"", {8}, 0, 0}), "tensor #0 has an empty name");
}

TEST(GgufHostile, OverlapsAndDuplicates) {
  RawGguf g;
  g.tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32);  // a is [0, 64), b is [32, 64)
  g.data_bytes = 64;
  expect_error(g.bytes(), "tensors 'a' [");
  expect_error(g.bytes(), "overlap");
  g.tensors[1].offset = 64;
  g.data_bytes = 96;
  EXPECT_NO_THROW(parse(g.bytes()));
  g.tensors[1].name = "a";
  expect_error(g.bytes(), "duplicate tensor name 'a'");
  // Same offset, listed in reverse order: still an overlap.
  RawGguf h;
  h.tensor("x", {8}, 0, 32).tensor("y", {8}, 0, 32);
  h.data_bytes = 64;
  expect_error(h.bytes(), "overlap");
}

TEST(GgufHostile, EndsPastFileMessageHasTheRange) {
  RawGguf g;
  g.tensor("blk.0.attn_q.weight", {16}, 0, 0);
  g.data_bytes = 32;
  const std::vector<uint8_t> bytes = g.bytes();
  const uint64_t start = bytes.size() - 32;
  expect_error(bytes, fmt::format("tensor 'blk.0.attn_q.weight' data [{}, {}) ends past end of file "
                                  "(size {})", start, start + 64, bytes.size()));
}

}  // namespace
}  // namespace strata
