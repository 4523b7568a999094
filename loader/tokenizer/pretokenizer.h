#pragma once
// Pre-tokenizers: split text into the words BPE merges within, exactly as the regular
// expressions of the reference tokenizers do (llama.cpp's `tokenizer.ggml.pre` families and
// the HF tokenizer.json Split patterns they come from). Each pattern is a hand-written
// matcher over decoded codepoints; a family is a sequence of stages, each of which splits
// every piece of the previous stage into its matches and the text between them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

enum class PreTokenizer {
  Default,      // llama.cpp's fallback for an unnamed/"default" pre-tokenizer
  Gpt2,         // gpt-2, olmo, mpt, phi-2, ...
  Llama3,       // llama-bpe/llama3, dbrx, smaug-bpe
  Qwen2,        // qwen2, stablelm2, deepseek-r1-qwen
  DeepseekLlm,  // deepseek-llm
  Deepseek3,    // deepseek-v3
  Gpt4o,        // gpt-4o (o200k), llama4
  Falcon,       // falcon
  Starcoder,    // starcoder, refact, command-r, smollm, codeshell
};

// `tokenizer.ggml.pre` value -> family; nullopt for names strata does not implement.
// An empty name means "default", as in llama.cpp.
std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name);
const char* pre_tokenizer_name(PreTokenizer pre);

// HF tokenizer.json: the Split regexes of the pre_tokenizer in order (plus the GPT-2 pattern
// where a ByteLevel step has use_regex) -> family; nullopt if they are not one strata knows.
std::optional<PreTokenizer> pre_tokenizer_from_hf_patterns(const std::vector<std::string>& patterns);
// The GPT-2 pattern HF's ByteLevel pre-tokenizer applies when use_regex is true.
extern const char* const kHfByteLevelPattern;

struct ByteSpan {
  uint32_t begin;
  uint32_t end;
};

// Splits `text` (any bytes; invalid UTF-8 is kept byte by byte) into consecutive non-empty
// word spans that cover it exactly, appended to `out`. Thread-safe; never fails.
void pre_tokenize(PreTokenizer pre, std::string_view text, std::vector<ByteSpan>& out);

}  // namespace strata
