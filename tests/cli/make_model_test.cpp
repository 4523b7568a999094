// `strata make-model` end to end: writes tiny models that `strata inspect` reads back.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "tests/cli/run_command.h"

namespace fs = std::filesystem;
using strata::test::run_command;

namespace {

strata::test::CommandResult strata_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), STRATA_BINARY);
  return run_command(args);
}

class MakeModel : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("strata_mm_" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  nlohmann::json inspect(const std::string& p) {
    auto r = strata_cmd({"inspect", "--json", p});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  fs::path dir_;
};

}  // namespace

TEST_F(MakeModel, EveryArchitectureWritesAnInspectableFile) {
  const std::pair<const char*, const char*> archs[] = {{"qwen3moe", "qwen3moe"}, {"mixtral", "llama"},
                                                       {"qwen2moe", "qwen2moe"}, {"olmoe", "olmoe"},
                                                       {"llama", "llama"},       {"qwen3", "qwen3"}};
  for (auto [arch, gguf_arch] : archs) {
    std::string out = path((std::string(arch) + ".gguf").c_str());
    auto r = strata_cmd({"make-model", "--arch", arch, "--layers", "1", "--type", "q8_0", "-o", out});
    ASSERT_EQ(r.exit_code, 0) << arch << ": " << r.err;
    EXPECT_NE(r.out.find("wrote"), std::string::npos);
    EXPECT_FALSE(fs::exists(out + ".tmp"));
    auto j = inspect(out);
    EXPECT_EQ(j["arch"], gguf_arch);
    EXPECT_EQ(j["hparams"]["n_layer"], 1);
  }
}

TEST_F(MakeModel, SeedsAreReproducible) {
  auto a = strata_cmd({"make-model", "--arch", "olmoe", "--seed", "5", "-o", path("a.gguf")});
  auto b = strata_cmd({"make-model", "--arch", "olmoe", "--seed", "5", "--threads", "1", "-o", path("b.gguf")});
  auto c = strata_cmd({"make-model", "--arch", "olmoe", "--seed", "6", "-o", path("c.gguf")});
  ASSERT_EQ(a.exit_code + b.exit_code + c.exit_code, 0) << a.err << b.err << c.err;
  auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(bytes(path("a.gguf")), bytes(path("b.gguf")));
  EXPECT_NE(bytes(path("a.gguf")), bytes(path("c.gguf")));
}

TEST_F(MakeModel, SafetensorsDirectoryAndVocab) {
  auto r = strata_cmd({"make-model", "--preset", "qwen2moe-tiny", "--format", "safetensors", "-o", path("hf")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "hf" / "config.json"));
  EXPECT_TRUE(fs::exists(dir_ / "hf" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(dir_ / "hf" / "tokenizer.json"));
  auto j = inspect(path("hf"));
  EXPECT_EQ(j["arch"], "qwen2moe");
  EXPECT_EQ(j["hparams"]["n_ff_shexp"], 512);
  // The tokenizer.json written next to the safetensors splits text exactly like the GGUF's
  // built-in vocabulary.
  ASSERT_EQ(strata_cmd({"make-model", "--preset", "qwen2moe-tiny", "-o", path("same.gguf")}).exit_code, 0);
  const std::string text = "The model and the expert were there.<|endoftext|> 123";
  auto from_hf = strata_cmd({"tokenize", "--ids-only", "-m", path("hf"), text});
  auto from_gguf = strata_cmd({"tokenize", "--ids-only", "-m", path("same.gguf"), text});
  ASSERT_EQ(from_hf.exit_code, 0) << from_hf.err;
  ASSERT_EQ(from_gguf.exit_code, 0) << from_gguf.err;
  EXPECT_EQ(from_hf.out, from_gguf.out);
  EXPECT_NE(from_hf.out.find(" 32 49 50 51"), std::string::npos) << from_hf.out;  // " 123" as bytes

  auto v = strata_cmd({"make-model", "--arch", "qwen3", "--layers", "1", "--vocab",
                       std::string(STRATA_SHARED_DIR) + "/vocab/ggml-vocab-gpt-2.gguf", "-o", path("v.gguf")});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(inspect(path("v.gguf"))["hparams"]["n_vocab"], 50257);
}

TEST_F(MakeModel, RefusesBadRequests) {
  auto first = strata_cmd({"make-model", "--arch", "llama", "-o", path("m.gguf")});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto again = strata_cmd({"make-model", "--arch", "llama", "-o", path("m.gguf")});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already exists (use --force"), std::string::npos) << again.err;
  EXPECT_EQ(strata_cmd({"make-model", "--arch", "llama", "--force", "-o", path("m.gguf")}).exit_code, 0);

  auto type = strata_cmd({"make-model", "--arch", "llama", "--type", "q2_q", "-o", path("t.gguf")});
  EXPECT_EQ(type.exit_code, 1);
  EXPECT_NE(type.err.find("unknown weight type 'q2_q'"), std::string::npos) << type.err;
  auto preset = strata_cmd({"make-model", "--preset", "nope", "-o", path("p.gguf")});
  EXPECT_EQ(preset.exit_code, 1);
  EXPECT_NE(preset.err.find("unknown preset 'nope' (available: "), std::string::npos) << preset.err;
  auto st = strata_cmd({"make-model", "--arch", "llama", "--format", "safetensors", "--type", "q4_k", "-o", path("s")});
  EXPECT_EQ(st.exit_code, 1);
  EXPECT_NE(st.err.find("safetensors output stores f32, f16 or bf16 only"), std::string::npos) << st.err;
  EXPECT_FALSE(fs::exists(dir_ / "s"));
  auto both = strata_cmd({"make-model", "--arch", "llama", "--preset", "llama-tiny", "-o", path("b.gguf")});
  EXPECT_EQ(both.exit_code, 1);
  auto dir = strata_cmd({"make-model", "--arch", "llama", "-o", path("no/such/dir/m.gguf")});
  EXPECT_EQ(dir.exit_code, 1);
  EXPECT_NE(dir.err.find("strata: error:"), std::string::npos);
}

TEST_F(MakeModel, ChecksFreeDiskSpaceFirst) {
  // /dev/shm is a RAM-sized tmpfs: far too small for Mixtral-8x7B in f32 (187 GB).
  if (!fs::exists("/dev/shm")) GTEST_SKIP() << "no /dev/shm";
  auto r = strata_cmd({"make-model", "--preset", "mixtral-8x7b", "--type", "f32", "-o", "/dev/shm/strata_too_big.gguf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not enough free disk space"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists("/dev/shm/strata_too_big.gguf.tmp"));
}
