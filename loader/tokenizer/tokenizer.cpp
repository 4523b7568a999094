#include "loader/tokenizer/tokenizer.h"

#include <algorithm>
#include <limits>

#include "common/error.h"
#include "loader/tokenizer/tokenizer_internal.h"
#include "loader/tokenizer/unicode.h"

namespace strata {
namespace {

bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

bool is_special_kind(TokenKind k) {
  return k == TokenKind::Control || k == TokenKind::Unknown || k == TokenKind::Unused;
}

// Tokens that end a turn in the chat formats strata knows, found by text because GGUF files
// do not mark them (same list as llama.cpp).
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
    "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
};

// "<0xAB>" -> 0xAB; -1 for any other text.
int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int v = 0;
  for (char c : t.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else return -1;
  }
  return v;
}

// The bytes a token stands for when decoding.
std::string piece_of(const VocabToken& t, VocabType type) {
  if (t.kind == TokenKind::Byte && parse_byte_token(t.text) >= 0) {
    return std::string(1, static_cast<char>(parse_byte_token(t.text)));
  }
  // Special and added tokens are their text; byte-level vocabularies may also mark their byte
  // characters as byte tokens, which decode like normal ones.
  if (t.kind != TokenKind::Normal && !(t.kind == TokenKind::Byte && type == VocabType::Bpe)) return t.text;
  std::string p;
  if (type == VocabType::Spm) {
    for (size_t pos = 0; pos < t.text.size();) {
      if (t.text.compare(pos, kSpmSpace.size(), kSpmSpace) == 0) {
        p += ' ';
        pos += kSpmSpace.size();
      } else {
        p += t.text[pos++];
      }
    }
    return p;
  }
  // Byte-level: each character stands for one byte. A token with characters outside that
  // alphabet is written as it is (what HF's ByteLevel decoder does).
  for (size_t pos = 0; pos < t.text.size();) {
    size_t len = 1;
    const int b = unicode::char_to_byte(unicode::decode_utf8(t.text, pos, len));
    if (b < 0) return t.text;
    p += static_cast<char>(b);
    pos += len;
  }
  return p;
}

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  const std::string& src = vocab_.source;
  const size_t n = vocab_.tokens.size();
  if (n == 0) fail("{}: the tokenizer vocabulary is empty", src);
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    fail("{}: tokenizer vocabulary of {} tokens is too large", src, n);
  }
  for (const auto* opt : {&vocab_.bos, &vocab_.eos, &vocab_.eot, &vocab_.eom, &vocab_.unk, &vocab_.pad}) {
    if (*opt && (**opt < 0 || static_cast<size_t>(**opt) >= n)) {
      fail("{}: special token id {} is outside the vocabulary of {} tokens", src, **opt, n);
    }
  }
  if (vocab_.add_bos && !vocab_.bos) fail("{}: the tokenizer adds BOS but has no BOS token", src);
  if (vocab_.add_eos && !vocab_.eos) fail("{}: the tokenizer adds EOS but has no EOS token", src);

  by_text_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    // The first of two equal texts wins, as a vocabulary lookup can only return one.
    if (!vocab_.tokens[i].text.empty()) by_text_.emplace(vocab_.tokens[i].text, static_cast<int32_t>(i));
  }

  // End-of-generation set; such tokens are control tokens even where the file forgot to say so.
  eog_.assign(n, false);
  for (std::string_view t : kEogTexts) {
    if (auto it = by_text_.find(t); it != by_text_.end()) eog_[static_cast<size_t>(it->second)] = true;
  }
  // gpt-oss ends a turn with <|return|> or <|call|>; its <|end|> only closes a message.
  if (find_token("<|return|>") && find_token("<|call|>")) {
    if (auto end = find_token("<|end|>")) eog_[static_cast<size_t>(*end)] = false;
  }
  for (const auto& id : {vocab_.eos, vocab_.eot, vocab_.eom}) {
    if (id) eog_[static_cast<size_t>(*id)] = true;
  }
  for (size_t i = 0; i < n; ++i) {
    if (eog_[i] && vocab_.tokens[i].kind == TokenKind::Normal) vocab_.tokens[i].kind = TokenKind::Control;
  }

  byte_token_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    std::optional<int32_t> id;
    if (vocab_.type == VocabType::Bpe) {
      id = find_token(unicode::byte_to_utf8(static_cast<uint8_t>(b)));
    } else {
      const char hex[] = "0123456789ABCDEF";
      const char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
      id = find_token(name);
      if (!id) id = find_token(std::string(1, static_cast<char>(b)));
    }
    if (id) byte_token_[static_cast<size_t>(b)] = *id;
  }

  if (vocab_.type == VocabType::Bpe) {
    merges_ = std::make_unique<MergeTable>(vocab_.merges.size());
    for (size_t r = 0; r < vocab_.merges.size(); ++r) {
      const auto& [a, b] = vocab_.merges[r];
      const auto ia = find_token(a);
      const auto ib = find_token(b);
      const auto iab = find_token(a + b);
      // A merge whose parts or result are not tokens can never apply (HF rejects such files).
      if (ia && ib && iab) merges_->insert(*ia, *ib, static_cast<uint32_t>(r), *iab);
    }
  }

  specials_ = std::make_unique<SpecialTrie>();
  for (size_t i = 0; i < n; ++i) {
    const VocabToken& t = vocab_.tokens[i];
    const bool literal = t.kind == TokenKind::Control || t.kind == TokenKind::UserDefined ||
                         t.kind == TokenKind::Unknown;
    if (literal && !t.text.empty()) specials_->insert(t.text, static_cast<int32_t>(i));
  }

  pieces_.resize(n);
  for (size_t i = 0; i < n; ++i) pieces_[i] = piece_of(vocab_.tokens[i], vocab_.type);
}

Tokenizer::~Tokenizer() = default;

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= n_vocab()) fail("token id {} is outside the vocabulary (0..{})", id, n_vocab() - 1);
}

std::string_view Tokenizer::piece(int32_t id) const {
  check_id(id);
  return pieces_[static_cast<size_t>(id)];
}

std::string_view Tokenizer::token_text(int32_t id) const {
  check_id(id);
  return vocab_.tokens[static_cast<size_t>(id)].text;
}

TokenKind Tokenizer::kind(int32_t id) const {
  check_id(id);
  return vocab_.tokens[static_cast<size_t>(id)].kind;
}

bool Tokenizer::is_eog(int32_t id) const {
  return id >= 0 && id < n_vocab() && eog_[static_cast<size_t>(id)];
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  auto it = by_text_.find(text);
  if (it == by_text_.end()) return std::nullopt;
  return it->second;
}

void Tokenizer::push_unknown(std::vector<int32_t>& out) const {
  if (vocab_.unk) out.push_back(*vocab_.unk);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  if (text.size() >= std::numeric_limits<uint32_t>::max()) {
    fail("text of {} bytes is too long to tokenize (limit 4 GiB)", text.size());
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  Scratch s;
  if (add_special && vocab_.add_bos) out.push_back(*vocab_.bos);

  const auto allowed = [&](int32_t id) {
    const TokenKind k = vocab_.tokens[static_cast<size_t>(id)].kind;
    return parse_special || k == TokenKind::UserDefined;
  };
  size_t seg = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (!specials_->first[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [id, len] = specials_->longest(text, pos, allowed);
    if (id < 0) {
      ++pos;
      continue;
    }
    const VocabToken& tok = vocab_.tokens[static_cast<size_t>(id)];
    size_t left_end = pos;
    if (tok.lstrip) {
      while (left_end > seg && ascii_space(text[left_end - 1])) --left_end;
    }
    if (left_end > seg) encode_text(text.substr(seg, left_end - seg), seg == 0, s, out);
    out.push_back(id);
    pos += len;
    if (tok.rstrip) {
      while (pos < text.size() && ascii_space(text[pos])) ++pos;
    }
    seg = pos;
  }
  if (seg < text.size()) encode_text(text.substr(seg), seg == 0, s, out);

  if (add_special && vocab_.add_eos) out.push_back(*vocab_.eos);
  return out;
}

void Tokenizer::encode_text(std::string_view text, bool at_start, Scratch& s,
                            std::vector<int32_t>& out) const {
  if (vocab_.type == VocabType::Spm) {
    s.buf.clear();
    // SentencePiece's space goes before every text fragment (after a special token too), or
    // only before the start of the text (HF Metaspace prepend_scheme "first").
    if (vocab_.add_space_prefix && (at_start || !vocab_.space_prefix_at_start_only)) s.buf += kSpmSpace;
    for (char c : text) {
      if (c == ' ') s.buf += kSpmSpace;
      else s.buf += c;
    }
    encode_spm(s.buf, s, out);
    return;
  }
  if (vocab_.nfc) {
    s.normalized.clear();
    unicode::normalize_nfc(text, s.normalized);
    text = s.normalized;
  }
  s.words.clear();
  pre_tokenize(vocab_.pre, text, s.words);
  for (const ByteSpan& w : s.words) encode_bpe_word(text.substr(w.begin, w.end - w.begin), s, out);
}

Tokenizer::DecodeState Tokenizer::decode_start(bool sequence_start) const {
  return {sequence_start && vocab_.type == VocabType::Spm && vocab_.add_space_prefix};
}

void Tokenizer::append_piece(int32_t id, bool render_special, DecodeState& state, std::string& out) const {
  check_id(id);
  const auto i = static_cast<size_t>(id);
  if (is_special_kind(vocab_.tokens[i].kind)) {
    // Special tokens neither carry the encoder's leading space nor end the stretch before text.
    if (render_special) out += pieces_[i];
    return;
  }
  std::string_view p = pieces_[i];
  if (state.strip_space && !p.empty() && p[0] == ' ') p.remove_prefix(1);
  state.strip_space = false;
  out += p;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  DecodeState state = decode_start(true);
  for (int32_t id : ids) append_piece(id, render_special, state, out);
  return out;
}

}  // namespace strata
