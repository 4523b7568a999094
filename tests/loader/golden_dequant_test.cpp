// Reference dequantization against gguf-py's (an independent implementation): for each quantized
// golden model, the tensors meta.json lists under dequantized_tensors must come out bit-identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "kernels/quant.h"
#include "loader/gguf.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

std::vector<float> read_f32(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << p;
  const auto size = fs::file_size(p);
  std::vector<float> v(size / sizeof(float));
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

class GoldenDequant : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenDequant, BitExactAgainstGgufPy) {
  const fs::path dir = fs::path(STRATA_SHARED_DIR) / "golden" / GetParam();
  const nlohmann::json meta = nlohmann::json::parse(std::ifstream(dir / "meta.json"));
  const GgufFile f = GgufFile::open((dir / "model.gguf").string());
  const auto& listed = meta.at("dequantized_tensors");
  ASSERT_GE(listed.size(), 3u);
  for (const auto& [name, info] : listed.items()) {
    SCOPED_TRACE(name);
    const GgufTensorInfo* t = f.find(name);
    ASSERT_NE(t, nullptr);
    const std::vector<float> expect = read_f32(dir / info.at("file").get<std::string>());
    ASSERT_EQ(static_cast<int64_t>(expect.size()), t->elements());
    const int64_t cols = t->ne[0];
    const int64_t rows = t->elements() / cols;
    const int64_t rb = row_bytes(t->type, cols);
    std::vector<float> got(expect.size());
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_row(t->type, f.data() + t->offset + r * rb, got.data() + r * cols, cols);
    }
    int64_t mismatches = 0, first = -1;
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::memcmp(&got[i], &expect[i], sizeof(float)) != 0) {
        if (first < 0) first = static_cast<int64_t>(i);
        ++mismatches;
      }
    }
    EXPECT_EQ(mismatches, 0) << type_name(t->type) << ": first at " << first << " got "
                             << (first >= 0 ? got[first] : 0) << " want " << (first >= 0 ? expect[first] : 0);
    std::printf("  %s %s (%s): %lld values bit-exact\n", GetParam(), name.c_str(),
                std::string(type_name(t->type)).c_str(), static_cast<long long>(got.size()) - mismatches);
  }
}

// ggml's reference quantizers for Q4_0 / Q8_0 / MXFP4 reproduce their own output from its
// dequantization, so quantize(dequantize(file)) == file checks that strata's quantizers follow the
// same conventions (scale sign, rounding, exponent choice) as the tool that wrote these files.
TEST(GoldenRequantize, Q4_0Q8_0Mxfp4ReproduceTheFileBlocks) {
  for (const char* model : {"qwen3moe-q4_0", "qwen3moe-q8_0", "qwen3moe-mxfp4"}) {
    const fs::path dir = fs::path(STRATA_SHARED_DIR) / "golden" / model;
    const GgufFile f = GgufFile::open((dir / "model.gguf").string());
    int checked = 0;
    for (const GgufTensorInfo& t : f.tensors()) {
      if (t.type != TensorType::Q4_0 && t.type != TensorType::Q8_0 && t.type != TensorType::MXFP4) continue;
      SCOPED_TRACE(std::string(model) + " " + t.name);
      const int64_t cols = t.ne[0], rows = t.elements() / cols, rb = row_bytes(t.type, cols);
      std::vector<float> row(static_cast<size_t>(cols));
      std::vector<uint8_t> again(static_cast<size_t>(rb));
      for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* src = f.data() + t.offset + r * rb;
        dequantize_row(t.type, src, row.data(), cols);
        quantize_row(t.type, row.data(), again.data(), cols);
        ASSERT_EQ(0, std::memcmp(src, again.data(), static_cast<size_t>(rb))) << "row " << r;
      }
      ++checked;
    }
    EXPECT_GE(checked, 6) << model;
  }
}

// The F16 golden model holds the common F32 source rounded to f16, so it shows how close strata's
// own K-quant search comes to llama-quantize's: both quantize the same weights, and the squared
// error of each against the f16 values is compared tensor by tensor.
TEST(GoldenRequantize, KQuantErrorComparableToLlamaQuantize) {
  const fs::path golden = fs::path(STRATA_SHARED_DIR) / "golden";
  const GgufFile src = GgufFile::open((golden / "qwen3moe-f16" / "model.gguf").string());
  const std::pair<const char*, TensorType> cases[] = {
      {"qwen3moe-q4_k", TensorType::Q4_K}, {"qwen3moe-q5_k", TensorType::Q5_K}, {"qwen3moe-q6_k", TensorType::Q6_K}};
  for (const auto& [model, type] : cases) {
    const GgufFile q = GgufFile::open((golden / model / "model.gguf").string());
    double err_ours = 0, err_theirs = 0;
    for (const GgufTensorInfo& t : q.tensors()) {
      if (t.type != type) continue;
      const GgufTensorInfo* s = src.find(t.name);
      ASSERT_NE(s, nullptr) << t.name;
      ASSERT_EQ(s->type, TensorType::F16);
      const int64_t cols = t.ne[0], rows = t.elements() / cols;
      std::vector<float> x(static_cast<size_t>(cols)), theirs(x.size()), ours(x.size());
      std::vector<uint8_t> qb(static_cast<size_t>(row_bytes(type, cols)));
      for (int64_t r = 0; r < rows; ++r) {
        dequantize_row(TensorType::F16, src.data() + s->offset + r * row_bytes(TensorType::F16, cols), x.data(), cols);
        dequantize_row(type, q.data() + t.offset + r * row_bytes(type, cols), theirs.data(), cols);
        quantize_row(type, x.data(), qb.data(), cols);
        dequantize_row(type, qb.data(), ours.data(), cols);
        for (int64_t c = 0; c < cols; ++c) {
          err_ours += (ours[c] - x[c]) * static_cast<double>(ours[c] - x[c]);
          err_theirs += (theirs[c] - x[c]) * static_cast<double>(theirs[c] - x[c]);
        }
      }
    }
    const double ratio = std::sqrt(err_ours / err_theirs);
    std::printf("  %s: strata quantizer RMS error / llama-quantize RMS error = %.3f\n",
                std::string(type_name(type)).c_str(), ratio);
    EXPECT_LT(ratio, 1.15) << type_name(type);
  }
}

INSTANTIATE_TEST_SUITE_P(QuantizedModels, GoldenDequant,
                         ::testing::Values("qwen3moe-q4_0", "qwen3moe-q4_k", "qwen3moe-q5_k", "qwen3moe-q6_k",
                                           "qwen3moe-q8_0", "qwen3moe-mxfp4"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) {
                             if (c == '-') c = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace strata
