// The reference test vectors in ../shared/vocab: every input must encode to exactly the ids
// llama.cpp / HF tokenizers produce, decode back to itself, and stream-decode to the same text.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loader/tokenizer/tokenizer.h"
#include "tests/tokenizer/shared_vocabs.h"

namespace strata {
namespace {

const std::string& kVocabDir = test::vocab_dir();

struct VectorCase {
  const char* name;        // ggml-vocab-<name>.gguf.{inp,out}
  const char* vocab_path;  // relative to kVocabDir: a GGUF file or an HF directory
};

class VocabVectors : public ::testing::TestWithParam<VectorCase> {};

TEST_P(VocabVectors, EncodeMatchesReferenceIds) {
  const VectorCase& c = GetParam();
  const Tokenizer* tok = &test::shared_tokenizer(c.vocab_path);
  const auto cases = test::read_vectors(kVocabDir + "ggml-vocab-" + c.name + ".gguf");
  ASSERT_GT(cases.size(), 40u);
  for (const auto& [text, want] : cases) {
    EXPECT_EQ(tok->encode(text, /*add_special=*/false, /*parse_special=*/false), want) << "input: '" << text << "'";
  }
}

TEST_P(VocabVectors, DecodeRoundTripsAndStreamsTheSameText) {
  const VectorCase& c = GetParam();
  const Tokenizer* tok = &test::shared_tokenizer(c.vocab_path);
  for (const auto& [text, want] : test::read_vectors(kVocabDir + "ggml-vocab-" + c.name + ".gguf")) {
    const std::vector<int32_t> ids = tok->encode(text, false, false);
    const std::string decoded = tok->decode(ids, false);
    EXPECT_EQ(decoded, text);
    StreamingDetokenizer stream(*tok, false);
    std::string streamed;
    for (int32_t id : ids) {
      const std::string part = stream.feed(id);
      // Each part is whole UTF-8 when the full text is.
      streamed += part;
    }
    streamed += stream.flush();
    EXPECT_EQ(streamed, decoded) << "input: '" << text << "'";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shared, VocabVectors,
    ::testing::Values(VectorCase{"qwen2", "hf/qwen3"}, VectorCase{"llama-bpe", "hf/llama3"},
                      VectorCase{"gpt-2", "ggml-vocab-gpt-2.gguf"},
                      VectorCase{"deepseek-llm", "ggml-vocab-deepseek-llm.gguf"},
                      VectorCase{"falcon", "ggml-vocab-falcon.gguf"},
                      VectorCase{"llama-spm", "ggml-vocab-llama-spm.gguf"},
                      VectorCase{"phi-3", "ggml-vocab-phi-3.gguf"}),
    [](const ::testing::TestParamInfo<VectorCase>& info) {
      std::string n = info.param.name;
      for (char& ch : n) {
        if (ch == '-') ch = '_';
      }
      return n;
    });

}  // namespace
}  // namespace strata
