// Loading vocabularies from GGUF metadata and HF directories, including broken ones: every
// problem is one clear strata::Error, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "loader/tokenizer/tokenizer.h"
#include "loader/tokenizer/unicode.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

MetaValue strings(const std::vector<std::string>& v) {
  MetaArray a;
  for (const auto& s : v) a.push_back(MetaValue::str(s));
  return MetaValue::array(MetaType::String, std::move(a));
}

MetaValue ints(const std::vector<int32_t>& v) {
  MetaArray a;
  for (int32_t x : v) a.push_back(MetaValue::i32(x));
  return MetaValue::array(MetaType::I32, std::move(a));
}

// A byte-level vocabulary: the 256 byte characters, "ab", and <|end|>.
Metadata tiny_gguf() {
  std::vector<std::string> toks;
  for (int b = 0; b < 256; ++b) toks.emplace_back(unicode::byte_to_utf8(static_cast<uint8_t>(b)));
  toks.push_back("ab");
  toks.push_back("<|end|>");
  std::vector<int32_t> types(toks.size(), 1);
  types.back() = 3;
  Metadata m;
  m.set("tokenizer.ggml.model", MetaValue::str("gpt2"));
  m.set("tokenizer.ggml.pre", MetaValue::str("qwen2"));
  m.set("tokenizer.ggml.tokens", strings(toks));
  m.set("tokenizer.ggml.token_type", ints(types));
  m.set("tokenizer.ggml.merges", strings({"a b"}));
  m.set("tokenizer.ggml.eos_token_id", MetaValue::u32(257));
  m.set("tokenizer.chat_template", MetaValue::str("{{ messages }}"));
  return m;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(VocabFromMetadata, ReadsTokensMergesSpecialsAndTemplate) {
  const auto tok = Tokenizer::from_metadata(tiny_gguf());
  EXPECT_EQ(tok->n_vocab(), 258);
  EXPECT_EQ(tok->encode("ab<|end|>", false, true), (std::vector<int32_t>{256, 257}));
  EXPECT_EQ(tok->eos(), 257);
  EXPECT_TRUE(tok->is_eog(257));
  EXPECT_EQ(tok->chat_template(), "{{ messages }}");
  EXPECT_EQ(tok->pre_tokenizer(), PreTokenizer::Qwen2);
}

TEST(VocabFromMetadata, BrokenMetadataIsAClearError) {
  {
    Metadata m = tiny_gguf();
    m.set("tokenizer.ggml.model", MetaValue::str("bert"));
    EXPECT_NE(error_of([&] { Tokenizer::from_metadata(m); }).find("'bert' is not supported"), std::string::npos);
  }
  {
    Metadata m = tiny_gguf();
    m.set("tokenizer.ggml.pre", MetaValue::str("martian"));
    EXPECT_NE(error_of([&] { Tokenizer::from_metadata(m); }).find("'martian'"), std::string::npos);
  }
  {
    Metadata m = tiny_gguf();
    m.set("tokenizer.ggml.merges", strings({"nospace"}));
    EXPECT_NE(error_of([&] { Tokenizer::from_metadata(m); }).find("nospace"), std::string::npos);
  }
  {
    Metadata m = tiny_gguf();
    m.set("tokenizer.ggml.token_type", ints({1, 1}));
    EXPECT_NE(error_of([&] { Tokenizer::from_metadata(m); }).find("token_type"), std::string::npos);
  }
  {
    Metadata m = tiny_gguf();
    m.set("tokenizer.ggml.tokens", MetaValue::u32(5));  // not an array
    EXPECT_NE(error_of([&] { Tokenizer::from_metadata(m); }).find("tokenizer.ggml.tokens"), std::string::npos);
  }
  EXPECT_NE(error_of([&] { Tokenizer::from_metadata(Metadata{}); }).find("tokenizer.ggml.model"),
            std::string::npos);
  {
    // An out-of-range special id is ignored (as llama.cpp does), not fatal.
    Metadata m = tiny_gguf();
    m.set("tokenizer.ggml.bos_token_id", MetaValue::u32(1u << 30));
    EXPECT_EQ(Tokenizer::from_metadata(m)->bos(), std::nullopt);
  }
}

TEST(VocabFromPath, MissingOrForeignFilesAreClearErrors) {
  EXPECT_THROW(Tokenizer::from_path("/nonexistent/vocab.gguf"), Error);
  EXPECT_THROW(Tokenizer::from_hf_dir("/nonexistent"), Error);
  // The golden models' GGUF files carry a tokenizer of their own.
  const auto tok = Tokenizer::from_path(std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-f32/model.gguf");
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_TRUE(tok->is_eog(511));
}

class HfDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("strata_hf_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::string error() {
    return error_of([&] { Tokenizer::from_hf_dir(dir_.string()); });
  }
  // tokenizer.json with the given pre_tokenizer and vocab entries.
  static std::string json(const std::string& pre, const std::string& vocab = R"({"a": 0, "b": 1, "ab": 2})") {
    return R"({"model": {"type": "BPE", "vocab": )" + vocab + R"(, "merges": [["a", "b"]]},
               "added_tokens": [{"id": 3, "content": "<|end|>", "special": true}],
               "pre_tokenizer": )" + pre + "}";
  }
  fs::path dir_;
};

constexpr const char* kByteLevel = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";

TEST_F(HfDir, MinimalByteLevelTokenizerLoads) {
  write("tokenizer.json", json(kByteLevel));
  write("tokenizer_config.json", R"({"eos_token": {"content": "<|end|>"}, "chat_template": [
      {"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  const auto tok = Tokenizer::from_hf_dir(dir_.string());
  EXPECT_EQ(tok->pre_tokenizer(), PreTokenizer::Gpt2);
  EXPECT_EQ(tok->encode("ab", false, false), (std::vector<int32_t>{2}));
  EXPECT_EQ(tok->eos(), 3);
  EXPECT_EQ(tok->chat_template(), "D");
}

TEST_F(HfDir, BrokenFilesAreClearErrors) {
  EXPECT_NE(error().find("no tokenizer.json"), std::string::npos);
  write("tokenizer.json", "{ not json");
  EXPECT_NE(error().find("not valid JSON"), std::string::npos);
  write("tokenizer.json", json(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated"},
      {"type": "ByteLevel", "use_regex": false}]})"));
  EXPECT_NE(error().find("pre-tokenizer pattern"), std::string::npos);
  write("tokenizer.json", json(R"({"type": "Metaspace"})"));
  EXPECT_NE(error().find("ByteLevel"), std::string::npos);
  write("tokenizer.json", json(kByteLevel, R"({"a": 4000000000})"));
  EXPECT_NE(error().find("bad id"), std::string::npos);
  write("tokenizer.json", json(kByteLevel, R"({"a": "zero"})"));
  EXPECT_NE(error().find("bad id"), std::string::npos);
  write("tokenizer.json", R"({"model": {"type": "Unigram"}})");
  EXPECT_NE(error().find("only BPE"), std::string::npos);
  write("tokenizer.json", json(kByteLevel));
  write("tokenizer_config.json", "[1, 2");
  EXPECT_NE(error().find("tokenizer_config.json"), std::string::npos);
}

}  // namespace
}  // namespace strata
