#pragma once
// Internals of Tokenizer shared by its source files (tokenizer.cpp, encode_bpe.cpp,
// encode_spm.cpp); not for use elsewhere.
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loader/tokenizer/pretokenizer.h"
#include "loader/tokenizer/tokenizer.h"

namespace strata {

inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// (left id, right id) -> (rank, merged id), open addressing: the BPE inner loop's only lookup.
struct Tokenizer::MergeTable {
  struct Slot {
    uint64_t key = 0;  // 0 = empty
    uint32_t rank = 0;
    int32_t result = 0;
  };
  std::vector<Slot> slots;
  uint64_t mask = 0;

  static uint64_t key_of(int32_t a, int32_t b) {
    return ((static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b)) + 1;
  }
  static uint64_t hash(uint64_t k) { return (k * 0x9E3779B97F4A7C15ull) >> 21; }

  explicit MergeTable(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots.resize(cap);
    mask = cap - 1;
  }
  // Keeps the first (lowest-rank) entry of a pair listed twice.
  void insert(int32_t a, int32_t b, uint32_t rank, int32_t result) {
    const uint64_t k = key_of(a, b);
    for (uint64_t i = hash(k) & mask;; i = (i + 1) & mask) {
      if (slots[i].key == k) return;
      if (slots[i].key == 0) {
        slots[i] = {k, rank, result};
        return;
      }
    }
  }
  const Slot* find(int32_t a, int32_t b) const {
    const uint64_t k = key_of(a, b);
    for (uint64_t i = hash(k) & mask;; i = (i + 1) & mask) {
      if (slots[i].key == k) return &slots[i];
      if (slots[i].key == 0) return nullptr;
    }
  }
};

// Byte trie over the texts of the tokens that may appear literally in input text.
struct Tokenizer::SpecialTrie {
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;
    int32_t token = -1;
  };
  std::vector<Node> nodes{1};
  std::array<bool, 256> first{};

  void insert(std::string_view s, int32_t id) {
    int32_t n = 0;
    for (char ch : s) {
      const auto c = static_cast<uint8_t>(ch);
      int32_t child = -1;
      for (auto& [b, idx] : nodes[static_cast<size_t>(n)].next) {
        if (b == c) child = idx;
      }
      if (child < 0) {
        child = static_cast<int32_t>(nodes.size());
        nodes[static_cast<size_t>(n)].next.emplace_back(c, child);
        nodes.emplace_back();
      }
      n = child;
    }
    if (nodes[static_cast<size_t>(n)].token < 0) nodes[static_cast<size_t>(n)].token = id;
    first[static_cast<uint8_t>(s[0])] = true;
  }

  // Longest token text at text[pos] whose token passes `allowed`; {-1, 0} if none.
  template <typename Allowed>
  std::pair<int32_t, size_t> longest(std::string_view text, size_t pos, Allowed allowed) const {
    std::pair<int32_t, size_t> best{-1, 0};
    int32_t n = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      const auto c = static_cast<uint8_t>(text[i]);
      int32_t child = -1;
      for (const auto& [b, idx] : nodes[static_cast<size_t>(n)].next) {
        if (b == c) child = idx;
      }
      if (child < 0) break;
      n = child;
      const int32_t tok = nodes[static_cast<size_t>(n)].token;
      if (tok >= 0 && allowed(tok)) best = {tok, i + 1 - pos};
    }
    return best;
  }
};

// Per-encode working memory, reused across the words of one call.
struct Tokenizer::Scratch {
  struct Sym {
    int32_t id;     // BPE: token id (kDead once merged away); SPM: unused
    uint32_t start; // SPM: byte offset in the escaped text
    uint32_t len;   // SPM: byte length (0 once merged away)
    int32_t prev;
    int32_t next;
  };
  struct BpeCand {
    uint32_t rank;
    int32_t left, right, lid, rid;
    bool operator>(const BpeCand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  struct SpmCand {
    float score;
    int32_t left, right;
    uint32_t llen, rlen;
    bool operator<(const SpmCand& o) const { return score != o.score ? score < o.score : left > o.left; }
  };
  std::vector<ByteSpan> words;
  std::vector<Sym> sym;
  std::vector<BpeCand> bpe_heap;
  std::vector<SpmCand> spm_heap;
  std::string buf;
  std::string normalized;
};

}  // namespace strata
