// Byte-level BPE: merge the bytes of one pre-tokenized word by merge rank.
#include <algorithm>
#include <functional>
#include <limits>

#include "loader/tokenizer/tokenizer_internal.h"
#include "loader/tokenizer/unicode.h"

namespace strata {
namespace {

constexpr int32_t kDead = std::numeric_limits<int32_t>::min();

}  // namespace

void Tokenizer::encode_bpe_word(std::string_view word, Scratch& s, std::vector<int32_t>& out) const {
  if (vocab_.ignore_merges) {
    s.buf.clear();
    for (char c : word) s.buf += unicode::byte_to_utf8(static_cast<uint8_t>(c));
    if (auto it = by_text_.find(s.buf); it != by_text_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (word.size() <= kSmallWord) {
    encode_bpe_small(word, out);
    return;
  }
  const auto n = static_cast<int32_t>(word.size());
  s.sym.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    s.sym[static_cast<size_t>(i)] = {byte_token_[static_cast<uint8_t>(word[static_cast<size_t>(i)])], 0, 0,
                                     i - 1, i + 1 < n ? i + 1 : -1};
  }
  auto& heap = s.bpe_heap;
  heap.clear();
  const auto push_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const int32_t a = s.sym[static_cast<size_t>(l)].id;
    const int32_t b = s.sym[static_cast<size_t>(r)].id;
    if (a < 0 || b < 0) return;
    if (const auto* m = merges_->find(a, b)) {
      heap.push_back({m->rank, l, r, a, b});
      std::push_heap(heap.begin(), heap.end(), std::greater<>{});
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i, i + 1);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    const Scratch::BpeCand c = heap.back();
    heap.pop_back();
    auto& L = s.sym[static_cast<size_t>(c.left)];
    if (L.id != c.lid || L.next != c.right || s.sym[static_cast<size_t>(c.right)].id != c.rid) continue;
    auto& R = s.sym[static_cast<size_t>(c.right)];
    L.id = merges_->find(c.lid, c.rid)->result;
    L.next = R.next;
    if (R.next >= 0) s.sym[static_cast<size_t>(R.next)].prev = c.left;
    R.id = kDead;
    push_pair(L.prev, c.left);
    push_pair(c.left, L.next);
  }
  for (int32_t i = 0; i >= 0 && n > 0; i = s.sym[static_cast<size_t>(i)].next) {
    const int32_t id = s.sym[static_cast<size_t>(i)].id;
    if (id >= 0) out.push_back(id);
    else push_unknown(out);  // a byte the vocabulary cannot spell
  }
}

// Most words are a few bytes long: a linear scan for the best pair over a small array beats
// the heap. Same order of merges: lowest rank first, leftmost among equal ranks.
void Tokenizer::encode_bpe_small(std::string_view word, std::vector<int32_t>& out) const {
  constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  int32_t ids[kSmallWord];
  uint32_t ranks[kSmallWord];
  int32_t results[kSmallWord];
  size_t n = word.size();
  for (size_t i = 0; i < n; ++i) ids[i] = byte_token_[static_cast<uint8_t>(word[i])];
  const auto rate = [&](size_t i) {
    const MergeTable::Slot* m = (ids[i] >= 0 && ids[i + 1] >= 0) ? merges_->find(ids[i], ids[i + 1]) : nullptr;
    ranks[i] = m != nullptr ? m->rank : kNone;
    results[i] = m != nullptr ? m->result : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) rate(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == kNone) break;
    ids[best] = results[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      ids[i] = ids[i + 1];
      ranks[i] = ranks[i + 1];
      results[i] = results[i + 1];
    }
    --n;
    if (best > 0) rate(best - 1);
    if (best + 1 < n) rate(best);
  }
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] >= 0) out.push_back(ids[i]);
    else push_unknown(out);  // a byte the vocabulary cannot spell
  }
}

}  // namespace strata
