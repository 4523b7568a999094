#pragma once
// The unit of work of one forward pass, like llama.cpp's llama_batch: a list of tokens, each
// belonging to a sequence slot at a position, and saying whether its logits are wanted.
//
// A batch may mix a long prefill of one sequence with single decode tokens of many others; the
// engine groups the work so each weight matrix (and each routed expert) is read once per pass.
#include <cstdint>
#include <span>
#include <vector>

namespace strata {

struct BatchToken {
  int32_t token = 0;
  int32_t seq = 0;       // sequence slot, 0 <= seq < EngineOptions::n_seq
  int32_t pos = 0;       // position in that sequence (0-based)
  bool want_logits = false;
};

// Not thread-safe; cheap to reuse (clear() keeps the capacity).
class Batch {
 public:
  void add(int32_t token, int32_t seq, int32_t pos, bool want_logits) {
    tokens_.push_back({token, seq, pos, want_logits});
  }
  // Appends `ids` to `seq` starting at position `first_pos`; only the last one wants logits
  // when `logits_last` (a prefill).
  void add_sequence(std::span<const int32_t> ids, int32_t seq, int32_t first_pos, bool logits_last) {
    for (size_t i = 0; i < ids.size(); ++i) {
      add(ids[i], seq, first_pos + static_cast<int32_t>(i), logits_last && i + 1 == ids.size());
    }
  }
  void clear() { tokens_.clear(); }
  bool empty() const { return tokens_.empty(); }
  size_t size() const { return tokens_.size(); }
  const BatchToken& operator[](size_t i) const { return tokens_[i]; }
  std::span<const BatchToken> tokens() const { return tokens_; }

 private:
  std::vector<BatchToken> tokens_;
};

}  // namespace strata
