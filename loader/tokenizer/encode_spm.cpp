// SentencePiece BPE: merge the characters of a fragment by piece score, byte fallback for
// what no piece covers.
#include <algorithm>

#include "loader/tokenizer/tokenizer_internal.h"
#include "loader/tokenizer/unicode.h"

namespace strata {

void Tokenizer::encode_spm(std::string_view text, Scratch& s, std::vector<int32_t>& out) const {
  auto& sym = s.sym;
  sym.clear();
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 1;
    unicode::decode_utf8(text, pos, len);
    const auto i = static_cast<int32_t>(sym.size());
    sym.push_back({0, static_cast<uint32_t>(pos), static_cast<uint32_t>(len), i - 1, -1});
    if (i > 0) sym[static_cast<size_t>(i - 1)].next = i;
    pos += len;
  }
  const auto mergeable = [&](std::string_view t) -> const VocabToken* {
    auto it = by_text_.find(t);
    if (it == by_text_.end()) return nullptr;
    const VocabToken& tok = vocab_.tokens[static_cast<size_t>(it->second)];
    // SentencePiece only merges into ordinary pieces: never into control or byte tokens.
    return (tok.kind == TokenKind::Normal || tok.kind == TokenKind::UserDefined) ? &tok : nullptr;
  };
  auto& heap = s.spm_heap;
  heap.clear();
  const auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const auto& L = sym[static_cast<size_t>(l)];
    const auto& R = sym[static_cast<size_t>(r)];
    if (const VocabToken* tok = mergeable(text.substr(L.start, L.len + R.len))) {
      heap.push_back({tok->score, l, r, L.len, R.len});
      std::push_heap(heap.begin(), heap.end());
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) try_pair(i, i + 1);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Scratch::SpmCand c = heap.back();
    heap.pop_back();
    auto& L = sym[static_cast<size_t>(c.left)];
    auto& R = sym[static_cast<size_t>(c.right)];
    if (L.len != c.llen || R.len != c.rlen || L.next != c.right) continue;
    L.len += R.len;
    R.len = 0;
    L.next = R.next;
    if (R.next >= 0) sym[static_cast<size_t>(R.next)].prev = c.left;
    try_pair(L.prev, c.left);
    try_pair(c.left, L.next);
  }
  for (int32_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[static_cast<size_t>(i)].next) {
    const auto& S = sym[static_cast<size_t>(i)];
    const std::string_view t = text.substr(S.start, S.len);
    if (auto it = by_text_.find(t); it != by_text_.end()) {
      const TokenKind k = vocab_.tokens[static_cast<size_t>(it->second)].kind;
      if (k != TokenKind::Control && k != TokenKind::Unknown && k != TokenKind::Byte) {
        out.push_back(it->second);
        continue;
      }
    }
    for (char ch : t) {
      const int32_t b = byte_token_[static_cast<uint8_t>(ch)];
      if (b >= 0) out.push_back(b);
      else push_unknown(out);
    }
  }
}

}  // namespace strata
