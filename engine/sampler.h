#pragma once
// Choosing the next token from logits: penalties, then top-k, top-p, min-p, temperature and a
// seeded draw (llama.cpp's default order), or greedy argmax when temperature <= 0.
#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <vector>

namespace strata {

struct SamplerParams {
  float temperature = 0.8f;       // <= 0: greedy (argmax, lowest id wins a tie)
  int top_k = 40;                 // <= 0: off
  float top_p = 0.95f;            // >= 1: off
  float min_p = 0.05f;            // <= 0: off
  float repeat_penalty = 1.0f;    // 1: off; divides positive / multiplies negative logits
  int repeat_last_n = 64;         // how many recent tokens the penalties look at (-1: all)
  float presence_penalty = 0.0f;  // subtracted once per distinct recent token
  float frequency_penalty = 0.0f; // subtracted per occurrence
  uint64_t seed = 0;
};

// Not thread-safe; one per sequence.
class Sampler {
 public:
  // Throws strata::Error for out-of-range parameters (negative temperature is fine: greedy;
  // top_p / min_p outside [0, 1], repeat_penalty <= 0, n_vocab <= 0).
  Sampler(const SamplerParams& params, int n_vocab);

  // Picks a token from `logits` (n_vocab values) given the history seen through accept().
  // Does not record it: call accept() with the token actually used.
  int32_t sample(std::span<const float> logits);
  // Adds a token to the penalty history (prompt tokens too, as llama.cpp does).
  void accept(int32_t token);
  void reset();

  const SamplerParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  void apply_penalties();

  SamplerParams params_;
  int n_vocab_;
  std::mt19937_64 rng_;
  std::deque<int32_t> history_;
  std::vector<Candidate> cand_;   // reused: no allocation per token after the first
  std::vector<int32_t> counts_;   // per-token occurrence counts in the window
  std::vector<float> probs_;
};

// Index of the largest value, lowest index on ties.
int32_t argmax(std::span<const float> logits);

}  // namespace strata
