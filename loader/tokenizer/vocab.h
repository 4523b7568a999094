#pragma once
// A tokenizer's vocabulary as read from a file, before any index is built: what the GGUF
// (`tokenizer.ggml.*`) and HF (tokenizer.json) readers fill in and Tokenizer is built from.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loader/tokenizer/pretokenizer.h"

namespace strata {

// GGUF token types (llama_token_type) keep these numbers.
enum class TokenKind : uint8_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,      // special tokens: BOS, EOS, <|im_start|>, ...; matched in text only on request
  UserDefined = 4,  // added tokens that are always matched in text and always rendered
  Unused = 5,
  Byte = 6,         // SentencePiece byte fallback <0xXX>
};

enum class VocabType {
  Bpe,  // byte-level BPE (GPT-2 style): `tokenizer.ggml.model = gpt2`
  Spm,  // SentencePiece BPE with scores and byte fallback: `tokenizer.ggml.model = llama`
};

struct VocabToken {
  std::string text;
  float score = 0.0f;
  TokenKind kind = TokenKind::Normal;
  bool lstrip = false;  // when matched in text, eat the whitespace before it
  bool rstrip = false;  // ... and after it
};

struct Vocab {
  VocabType type = VocabType::Bpe;
  PreTokenizer pre = PreTokenizer::Default;
  std::vector<VocabToken> tokens;  // index = token id
  std::vector<std::pair<std::string, std::string>> merges;  // BPE merges, by rank
  std::optional<int32_t> bos, eos, eot, eom, unk, pad;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;  // SPM: a space before the text (and after each special token)
  bool space_prefix_at_start_only = false;  // ... but not after special tokens
  bool ignore_merges = false;     // BPE: a word that is itself a token is not merged (llama3)
  bool nfc = false;               // NFC-normalise text before splitting it (HF "NFC" normalizer)
  std::optional<std::string> chat_template;
  std::string source;  // file the vocabulary came from, for error messages
};

}  // namespace strata
