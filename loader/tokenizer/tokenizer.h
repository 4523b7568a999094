#pragma once
// Text <-> token ids, exactly as the reference tokenizers (llama.cpp / HF tokenizers) do it:
// byte-level BPE with the pre-tokenizer of each model family, and SentencePiece BPE with
// byte fallback. Special tokens in text are recognised (longest match first) when asked.
//
// A Tokenizer is immutable after construction: every const method is safe to call from any
// number of threads at once.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "loader/metadata.h"
#include "loader/tokenizer/vocab.h"

namespace strata {

class Model;

class Tokenizer {
 public:
  // From GGUF `tokenizer.ggml.*` keys (model, tokens, token_type, scores, merges, pre, special
  // ids, add_*_token, chat_template). Throws strata::Error naming the key for missing or
  // malformed data or an unsupported tokenizer model / pre-tokenizer.
  static std::unique_ptr<Tokenizer> from_metadata(const Metadata& m);
  // From an HF directory: tokenizer.json and, if present, tokenizer_config.json (special
  // tokens, add_bos/add_eos, chat template). tokenizer.json must be a BPE model, either
  // byte-level (its Split patterns one of the known pre-tokenizers; NFC normalizer applied)
  // or SentencePiece-style with byte_fallback (Mistral/Mixtral). Throws strata::Error naming
  // the file and the problem.
  static std::unique_ptr<Tokenizer> from_hf_dir(const std::string& dir);
  // The model's own tokenizer: its HF directory when it has one, else its GGUF metadata.
  static std::unique_ptr<Tokenizer> for_model(const Model& model);
  // A vocabulary file: a (vocab-only or full) GGUF file, or an HF directory.
  static std::unique_ptr<Tokenizer> from_path(const std::string& path);

  // Validates the vocabulary and builds the lookup tables. Throws strata::Error (naming
  // vocab.source) for an empty vocabulary or special token ids out of range.
  explicit Tokenizer(Vocab vocab);
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;
  ~Tokenizer();

  // Token ids of `text` (any bytes: invalid UTF-8 is encoded byte by byte). add_special adds
  // BOS/EOS as the model asks (add_bos/add_eos). parse_special: control tokens written in the
  // text ("<|im_start|>") become their ids; user-defined added tokens are always recognised.
  // Throws strata::Error only for text over 4 GiB.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The text of `ids`. Control/unknown/unused tokens are written out only if render_special.
  // SentencePiece vocabularies drop the space the encoder put in front of the text. Throws
  // strata::Error for an id outside [0, n_vocab).
  std::string decode(std::span<const int32_t> ids, bool render_special) const;

  // The bytes token `id` stands for (special tokens: their text). Throws for a bad id.
  std::string_view piece(int32_t id) const;
  // The token's string as stored in the vocabulary (e.g. "ĠHello", "▁Hello", "<0x0A>").
  std::string_view token_text(int32_t id) const;
  TokenKind kind(int32_t id) const;
  int32_t n_vocab() const { return static_cast<int32_t>(vocab_.tokens.size()); }

  std::optional<int32_t> bos() const { return vocab_.bos; }
  std::optional<int32_t> eos() const { return vocab_.eos; }
  bool add_bos() const { return vocab_.add_bos; }
  bool add_eos() const { return vocab_.add_eos; }
  // End of generation: EOS, EOT, EOM and the end-of-turn tokens of the known chat formats
  // (<|im_end|>, <|eot_id|>, <|endoftext|>, ...). False for ids out of range.
  bool is_eog(int32_t id) const;
  std::optional<int32_t> find_token(std::string_view text) const;
  std::optional<std::string> chat_template() const { return vocab_.chat_template; }

  VocabType type() const { return vocab_.type; }
  PreTokenizer pre_tokenizer() const { return vocab_.pre; }

 private:
  friend class StreamingDetokenizer;
  // decode() one id at a time, shared with StreamingDetokenizer so both agree byte for byte.
  struct DecodeState {
    bool strip_space;  // the next text piece loses one leading space (SentencePiece prefix)
  };
  DecodeState decode_start(bool sequence_start) const;
  void append_piece(int32_t id, bool render_special, DecodeState& state, std::string& out) const;

  struct MergeTable;
  struct SpecialTrie;
  struct Scratch;

  void check_id(int32_t id) const;
  void encode_text(std::string_view text, bool at_start, Scratch& s, std::vector<int32_t>& out) const;
  static constexpr size_t kSmallWord = 24;
  void encode_bpe_word(std::string_view word, Scratch& s, std::vector<int32_t>& out) const;
  void encode_bpe_small(std::string_view word, std::vector<int32_t>& out) const;
  void encode_spm(std::string_view text, Scratch& s, std::vector<int32_t>& out) const;
  void push_unknown(std::vector<int32_t>& out) const;

  Vocab vocab_;
  std::unordered_map<std::string_view, int32_t> by_text_;  // keys view vocab_ texts
  std::vector<std::string> pieces_;
  std::vector<bool> eog_;
  std::array<int32_t, 256> byte_token_{};  // -1 where the vocabulary lacks the byte
  std::unique_ptr<MergeTable> merges_;
  std::unique_ptr<SpecialTrie> specials_;
};

// Turns ids into text one at a time, for streaming generated tokens: feed() returns only
// complete UTF-8 (a character split across tokens is held back until it is whole), flush()
// returns what is left. The concatenation of all returned strings equals
// tokenizer.decode(all ids, render_special) when sequence_start is true; with false, the
// stream continues earlier text (no SentencePiece leading-space removal).
// Not thread-safe (one stream per object); the Tokenizer must outlive it.
class StreamingDetokenizer {
 public:
  StreamingDetokenizer(const Tokenizer& tokenizer, bool render_special, bool sequence_start = true);
  // Throws strata::Error for an id outside [0, n_vocab).
  std::string feed(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool render_special_;
  Tokenizer::DecodeState state_;
  std::string pending_;
};

}  // namespace strata
