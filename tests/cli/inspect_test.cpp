// `strata inspect` end to end: every golden model and vocab file, JSON output, presets, errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/cli/run_command.h"

namespace fs = std::filesystem;
using strata::test::run_command;

namespace {

const std::string kShared = STRATA_SHARED_DIR;

strata::test::CommandResult strata_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), STRATA_BINARY);
  return run_command(args);
}

}  // namespace

TEST(Inspect, EveryGoldenModel) {
  int n = 0;
  for (const auto& d : fs::directory_iterator(kShared + "/golden")) {
    if (!d.is_directory()) continue;
    auto r = strata_cmd({"inspect", (d.path() / "model.gguf").string()});
    EXPECT_EQ(r.exit_code, 0) << d.path() << r.err;
    EXPECT_NE(r.out.find("architecture"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("params"), std::string::npos);
    EXPECT_NE(r.out.find("fit"), std::string::npos);
    EXPECT_TRUE(r.err.empty()) << r.err;
    ++n;
  }
  EXPECT_EQ(n, 13);
}

TEST(Inspect, EveryVocabFilePrintsItsSummary) {
  int n = 0;
  for (const auto& f : fs::directory_iterator(kShared + "/vocab")) {
    if (f.path().extension() != ".gguf") continue;
    auto r = strata_cmd({"inspect", f.path().string()});
    EXPECT_EQ(r.exit_code, 0) << f.path() << r.err;
    EXPECT_NE(r.out.find("vocabulary only"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tokens"), std::string::npos);
    ++n;
  }
  EXPECT_GE(n, 6);
  auto j = strata_cmd({"inspect", "--json", kShared + "/vocab/ggml-vocab-gpt-2.gguf"});
  ASSERT_EQ(j.exit_code, 0);
  auto v = nlohmann::json::parse(j.out);
  EXPECT_EQ(v["tokens"], 50257);
  EXPECT_EQ(v["tokenizer_model"], "gpt2");
}

TEST(Inspect, JsonHasSizesAndFit) {
  auto r = strata_cmd({"inspect", "--json", "--tensors", "--budget", "1M", kShared + "/golden/qwen3moe-q4_k/model.gguf"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["arch"], "qwen3moe");
  EXPECT_EQ(j["hparams"]["n_expert"], 8);
  EXPECT_EQ(j["hparams"]["n_embd"], 256);
  EXPECT_EQ(j["hparams"]["rope_order"], "neox");
  const auto& s = j["sizes"];
  EXPECT_EQ(s["total_bytes"].get<uint64_t>(), s["dense_bytes"].get<uint64_t>() + s["expert_bytes"].get<uint64_t>());
  EXPECT_EQ(s["expert_bytes"].get<uint64_t>(), 2u * 8u * s["bytes_per_expert"].get<uint64_t>());
  EXPECT_LT(s["active_params"].get<uint64_t>(), s["total_params"].get<uint64_t>());
  const auto& fit = j["fit"]["budget"];
  EXPECT_EQ(fit["budget_bytes"], 1u << 20);
  EXPECT_FALSE(fit["fits"].get<bool>());
  EXPECT_EQ(fit["experts_total"], 16);
  const uint64_t expect_fit = ((1u << 20) - s["dense_bytes"].get<uint64_t>()) / s["bytes_per_expert"].get<uint64_t>();
  EXPECT_EQ(fit["experts_fit"].get<uint64_t>(), expect_fit);
  EXPECT_EQ(j["tensors"].size(), 27u);
  EXPECT_EQ(j["tensor_types"]["q4_K"], 16);
}

TEST(Inspect, PresetAccountingWithoutWritingAFile) {
  auto r = strata_cmd({"inspect", std::string(STRATA_SOURCE_DIR) + "/configs/qwen3-30b-a3b.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("30.53 B total, 3.35 B active per token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("18.4 GiB total"), std::string::npos) << r.out;
  auto j = strata_cmd({"inspect", "--json", std::string(STRATA_SOURCE_DIR) + "/configs/mixtral-8x7b.json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto v = nlohmann::json::parse(j.out);
  EXPECT_NEAR(v["sizes"]["total_params"].get<double>() / 1e9, 46.7, 0.05);
  EXPECT_NEAR(v["sizes"]["active_params"].get<double>() / 1e9, 12.9, 0.05);
}

TEST(Inspect, ErrorsAreOneLineAndExitNonZero) {
  auto missing = strata_cmd({"inspect", "/nonexistent/model.gguf"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "strata: error: model '/nonexistent/model.gguf' does not exist\n");
  auto budget = strata_cmd({"inspect", "--budget", "lots", kShared + "/golden/qwen3-f32/model.gguf"});
  EXPECT_EQ(budget.exit_code, 1);
  EXPECT_NE(budget.err.find("invalid size 'lots'"), std::string::npos) << budget.err;
  auto not_model = strata_cmd({"inspect", kShared + "/golden/README.md"});
  EXPECT_EQ(not_model.exit_code, 1);
  EXPECT_NE(not_model.err.find("neither a GGUF file"), std::string::npos) << not_model.err;
}
