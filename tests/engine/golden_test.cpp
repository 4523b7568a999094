// The forward pass against llama.cpp's logits for every golden model in ../shared/golden.
//
// Tolerances (relative to the largest |logit| of the reference):
//  - F32 models: 1e-3. llama.cpp and a float64 pass agree to ~5e-7 on these files; what is left
//    is float32 summation order (our dot products and llama.cpp's SIMD ones add in different
//    orders), which over two layers stays orders of magnitude below 1e-3, while a wrong
//    operation (missing bias, wrong RoPE order, unnormalised expert weights) moves the logits by
//    several percent.
//  - F16/BF16/quantized models: 3e-2 against logits.f32, i.e. llama.cpp's own numbers, because
//    our matmuls round the activations to the weight's dot type exactly as llama.cpp's CPU backend
//    does (Q8_0 for Q4_0/Q8_0/MXFP4, Q8_K for K-quants, F16/BF16 for half types). The remaining
//    difference is summation order inside those dots. Following the quantized-activation
//    reference (not logits_fp_activations.f32) is what makes q6_k's flipped router decision come
//    out the same as llama.cpp's.
// Argmax at every position and the 24-token greedy continuation must match exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/sampler.h"
#include "loader/model.h"
#include "storage/mmap_expert_source.h"

namespace strata {
namespace {

const std::string kGolden = std::string(STRATA_SHARED_DIR) + "/golden/";

std::vector<int32_t> read_ids(std::istream& in) {
  std::vector<int32_t> ids;
  std::string line;
  std::getline(in, line);
  std::istringstream ss(line);
  int32_t v;
  while (ss >> v) ids.push_back(v);
  return ids;
}

struct Golden {
  std::vector<int32_t> prompt;
  std::vector<int32_t> greedy;
  std::vector<float> logits;  // [n_tokens, n_vocab]
};

Golden load_golden(const std::string& dir) {
  Golden g;
  std::ifstream tok(dir + "/tokens.txt");
  g.prompt = read_ids(tok);
  std::ifstream gr(dir + "/greedy.txt");
  read_ids(gr);  // line 1: the prompt again
  g.greedy = read_ids(gr);
  std::ifstream lf(dir + "/logits.f32", std::ios::binary | std::ios::ate);
  const auto bytes = static_cast<size_t>(lf.tellg());
  g.logits.resize(bytes / sizeof(float));
  lf.seekg(0);
  lf.read(reinterpret_cast<char*>(g.logits.data()), static_cast<std::streamsize>(bytes));
  return g;
}

struct Case {
  const char* dir;
  double tolerance;  // × max |logit|
};

class GoldenTest : public ::testing::TestWithParam<Case> {};

TEST_P(GoldenTest, PromptLogitsArgmaxAndGreedyMatchLlamaCpp) {
  const std::string dir = kGolden + GetParam().dir;
  ASSERT_TRUE(std::filesystem::exists(dir + "/model.gguf")) << dir;
  const Golden g = load_golden(dir);
  ASSERT_EQ(g.prompt.size(), 40u);
  ASSERT_EQ(g.greedy.size(), 24u);

  auto model = Model::open(dir + "/model.gguf");
  MmapExpertSource experts(*model);
  Engine engine(*model, experts, {.n_ctx = 256, .n_seq = 1, .kv_type = TensorType::F32, .n_threads = 2});
  const size_t nv = static_cast<size_t>(engine.n_vocab());
  ASSERT_EQ(g.logits.size(), g.prompt.size() * nv);

  Batch batch;
  for (size_t i = 0; i < g.prompt.size(); ++i) batch.add(g.prompt[i], 0, static_cast<int32_t>(i), true);
  engine.decode(batch);
  ASSERT_EQ(engine.n_logits(), g.prompt.size());

  float max_ref = 0.0f;
  for (float v : g.logits) max_ref = std::max(max_ref, std::fabs(v));
  double worst = 0.0;
  for (size_t t = 0; t < g.prompt.size(); ++t) {
    auto row = engine.logits(t);
    const std::span<const float> ref(g.logits.data() + t * nv, nv);
    for (size_t i = 0; i < nv; ++i) worst = std::max(worst, static_cast<double>(std::fabs(row[i] - ref[i])));
    EXPECT_EQ(argmax(row), argmax(ref)) << "position " << t;
  }
  const double limit = GetParam().tolerance * max_ref;
  EXPECT_LE(worst, limit) << "max |diff| " << worst << " vs limit " << limit;
  std::printf("[ %s ] max |logit diff| = %.3g (%.2e of max |logit| %.3f; tolerance %.0e)\n", GetParam().dir,
              worst, worst / max_ref, max_ref, GetParam().tolerance);

  // Greedy continuation, one token per decode step.
  std::vector<int32_t> generated;
  int32_t next = argmax(engine.logits(g.prompt.size() - 1));
  for (size_t step = 0; step < g.greedy.size(); ++step) {
    generated.push_back(next);
    if (step + 1 == g.greedy.size()) break;
    batch.clear();
    batch.add(next, 0, engine.seq_len(0), true);
    engine.decode(batch);
    next = argmax(engine.logits(0));
  }
  EXPECT_EQ(generated, g.greedy);
}

INSTANTIATE_TEST_SUITE_P(
    AllGoldenModels, GoldenTest,
    ::testing::Values(Case{"qwen3moe-f32", 1e-3}, Case{"llama-moe-f32", 1e-3}, Case{"qwen2moe-f32", 1e-3},
                      Case{"olmoe-f32", 1e-3}, Case{"qwen3-f32", 1e-3}, Case{"qwen3moe-f16", 3e-2},
                      Case{"qwen3moe-bf16", 3e-2}, Case{"qwen3moe-q8_0", 3e-2}, Case{"qwen3moe-q4_0", 3e-2},
                      Case{"qwen3moe-q4_k", 3e-2}, Case{"qwen3moe-q5_k", 3e-2}, Case{"qwen3moe-q6_k", 3e-2},
                      Case{"qwen3moe-mxfp4", 3e-2}),
    [](const auto& info) {
      std::string name = info.param.dir;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

}  // namespace
}  // namespace strata
