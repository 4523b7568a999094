// Every architecture through make-model's generator (loader/synth_model.h): dense Llama, Mixtral,
// Qwen2-MoE, OLMoE, Qwen3 and Qwen3-MoE presets, written as GGUF and as HF safetensors.
//  - The same weights from the two file formats give the same logits (the loaders map HF names,
//    layouts and config.json onto the same model; the engine must not care where they came from).
//  - A quantized file runs and batching does not change its logits.
// Tolerances: F32 GGUF vs F32 safetensors is the same arithmetic on identical floats, so 1e-5 ×
// max|logit| allows only summation-order noise; batched vs one-by-one as in batch_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "loader/model.h"
#include "loader/synth_model.h"
#include "storage/mmap_expert_source.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

std::string config_path(const std::string& preset) {
  return std::string(STRATA_SOURCE_DIR) + "/configs/" + preset + ".json";
}

// A generated model file (or HF directory), deleted when the test is done with it.
struct TempModel {
  explicit TempModel(std::string p) : path(std::move(p)) {}
  std::string path;
  TempModel(const TempModel&) = delete;
  TempModel& operator=(const TempModel&) = delete;
  ~TempModel() { fs::remove_all(path); }
};

std::unique_ptr<TempModel> write(const std::string& preset, const std::string& type, SynthFormat format) {
  const SynthConfig cfg = load_preset(config_path(preset));
  const SynthPlan plan = plan_model(cfg, type, "", 2);
  SynthWriteOptions o;
  o.out = testing::TempDir() + "engine_synth_" + preset + "_" + type +
          (format == SynthFormat::Gguf ? ".gguf" : "_hf");
  o.format = format;
  o.seed = 99;
  o.force = true;
  o.threads = 1;
  if (format == SynthFormat::Safetensors) fs::remove_all(o.out);
  write_model(plan, o);
  return std::make_unique<TempModel>(o.out);
}

std::vector<int32_t> some_tokens(int n_vocab, int n) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>((i * 7919 + 13) % n_vocab));
  return ids;
}

std::vector<std::vector<float>> all_logits(const std::string& path, std::span<const int32_t> ids, bool one_by_one) {
  auto model = Model::open(path);
  MmapExpertSource experts(*model);
  Engine engine(*model, experts, {.n_ctx = 64, .kv_type = TensorType::F32, .n_threads = 2});
  std::vector<std::vector<float>> out;
  Batch b;
  if (one_by_one) {
    for (size_t i = 0; i < ids.size(); ++i) {
      b.clear();
      b.add(ids[i], 0, static_cast<int32_t>(i), true);
      engine.decode(b);
      out.emplace_back(engine.logits(0).begin(), engine.logits(0).end());
    }
  } else {
    for (size_t i = 0; i < ids.size(); ++i) b.add(ids[i], 0, static_cast<int32_t>(i), true);
    engine.decode(b);
    for (size_t i = 0; i < ids.size(); ++i) out.emplace_back(engine.logits(i).begin(), engine.logits(i).end());
  }
  return out;
}

double max_abs(const std::vector<std::vector<float>>& rows) {
  double m = 0.0;
  for (const auto& r : rows) {
    for (float v : r) m = std::max(m, static_cast<double>(std::fabs(v)));
  }
  return m;
}

double max_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a[i].size(); ++j) m = std::max(m, static_cast<double>(std::fabs(a[i][j] - b[i][j])));
  }
  return m;
}

class SynthModels : public ::testing::TestWithParam<const char*> {};

TEST_P(SynthModels, GgufAndSafetensorsGiveTheSameLogits) {
  // HF Llama/Mixtral checkpoints rotate with NeoX order and GGUF ones with Q/K rows permuted for
  // normal order; the loader maps HF Llama to NeoX (right for real checkpoints), but make-model's
  // safetensors writer does not yet store Q/K rows in HF order, so its two files are different
  // models. Re-enable when the writer applies the inverse permutation.
  const auto gguf = write(GetParam(), "f32", SynthFormat::Gguf);
  const auto hf = write(GetParam(), "f32", SynthFormat::Safetensors);
  const auto ids = some_tokens(512, 12);
  const auto a = all_logits(gguf->path, ids, false);
  const auto b = all_logits(hf->path, ids, false);
  const double scale = max_abs(a);
  ASSERT_GT(scale, 0.0);
  ASSERT_TRUE(std::isfinite(scale));
  EXPECT_LE(max_diff(a, b), 1e-5 * scale);
}

TEST_P(SynthModels, QuantizedModelBatchedEqualsOneByOne) {
  const auto path = write(GetParam(), "q4_k_m", SynthFormat::Gguf);
  const auto ids = some_tokens(512, 10);
  const auto batched = all_logits(path->path, ids, false);
  const auto single = all_logits(path->path, ids, true);
  const double scale = max_abs(batched);
  ASSERT_TRUE(std::isfinite(scale));
  EXPECT_LE(max_diff(batched, single), 1e-4 * scale);
}

INSTANTIATE_TEST_SUITE_P(Presets, SynthModels,
                         ::testing::Values("llama-tiny", "mixtral-tiny", "qwen2moe-tiny", "olmoe-tiny", "qwen3-tiny",
                                           "qwen3moe-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace strata
