// Mistral/Mixtral ship SentencePiece as a tokenizers BPE with byte_fallback. No such file is in
// ../shared, so this test converts the llama-spm GGUF vocabulary the way HF's converter does
// (every split of a piece into two pieces is a merge, ranked by the piece's score) and checks
// that the converted tokenizer.json reproduces the llama-spm reference vectors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "loader/gguf.h"
#include "loader/tokenizer/tokenizer.h"
#include "loader/tokenizer/unicode.h"
#include "tests/tokenizer/shared_vocabs.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json convert_llama_spm(bool metaspace) {
  const GgufFile f = GgufFile::open(test::vocab_dir() + "ggml-vocab-llama-spm.gguf");
  const auto tokens = *f.metadata().get_string_array("tokenizer.ggml.tokens");
  const auto scores = *f.metadata().get_float_array("tokenizer.ggml.scores");
  const auto types = *f.metadata().get_int_array("tokenizer.ggml.token_type");
  std::unordered_map<std::string, size_t> id;
  json vocab = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) {
    id.emplace(tokens[i], i);
    vocab[tokens[i]] = i;
  }
  struct Merge {
    size_t l, r;
    double score;
  };
  std::vector<Merge> merges;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] != 1) continue;
    const std::string& t = tokens[i];
    std::vector<Merge> local;
    size_t len = 0;
    for (size_t pos = 0; pos < t.size(); pos += len) {
      unicode::decode_utf8(t, pos, len);
      if (pos + len >= t.size()) break;
      auto l = id.find(t.substr(0, pos + len));
      auto r = id.find(t.substr(pos + len));
      if (l != id.end() && r != id.end()) local.push_back({l->second, r->second, scores[i]});
    }
    std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
      return a.l != b.l ? a.l < b.l : a.r < b.r;
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
  json jm = json::array();
  for (const Merge& m : merges) jm.push_back(tokens[m.l] + " " + tokens[m.r]);

  json j;
  j["model"] = {{"type", "BPE"}, {"byte_fallback", true}, {"fuse_unk", true}, {"unk_token", "<unk>"},
                {"vocab", vocab}, {"merges", jm}};
  j["added_tokens"] = json::array({{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                                   {{"id", 1}, {"content", "<s>"}, {"special", true}},
                                   {{"id", 2}, {"content", "</s>"}, {"special", true}}});
  const std::string space = "\xE2\x96\x81";
  if (metaspace) {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", space}, {"prepend_scheme", "first"}, {"split", false}};
  } else {
    j["normalizer"] = {{"type", "Sequence"},
                       {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", space}},
                                                    {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}})}};
    j["pre_tokenizer"] = nullptr;
  }
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                                 {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})}};
  return j;
}

class HfSentencePiece : public ::testing::TestWithParam<bool> {};

TEST_P(HfSentencePiece, ConvertedLlamaVocabularyMatchesTheReferenceVectors) {
  const fs::path dir = fs::path(::testing::TempDir()) / (GetParam() ? "strata_hf_spm_meta" : "strata_hf_spm_norm");
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << convert_llama_spm(GetParam()).dump();
  std::ofstream(dir / "tokenizer_config.json") << R"({"bos_token": "<s>", "eos_token": "</s>"})";
  const auto tok = Tokenizer::from_hf_dir(dir.string());
  fs::remove_all(dir);
  EXPECT_EQ(tok->type(), VocabType::Spm);
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
  EXPECT_EQ(tok->encode("Hello", true, false).front(), 1);
  // After a special token, the legacy Prepend normaliser adds "▁" again; Metaspace's
  // prepend_scheme "first" only adds it at the start of the text.
  const auto hello = tok->find_token("Hello");
  const auto space_hello = tok->find_token("\xE2\x96\x81Hello");
  ASSERT_TRUE(hello && space_hello);
  EXPECT_EQ(tok->encode("<s>Hello", false, true), (std::vector<int32_t>{1, GetParam() ? *hello : *space_hello}));
  const auto cases = test::read_vectors(test::vocab_dir() + "ggml-vocab-llama-spm.gguf");
  ASSERT_GT(cases.size(), 40u);
  for (const auto& [text, want] : cases) {
    EXPECT_EQ(tok->encode(text, false, false), want) << "input: '" << text << "'";
    EXPECT_EQ(tok->decode(want, false), text);
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, HfSentencePiece, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Metaspace" : "Normalizer"; });

}  // namespace
}  // namespace strata
