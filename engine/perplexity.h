#pragma once
// Perplexity of a model over token windows, the way llama.cpp's perplexity tool and our training
// scripts score text: each window is evaluated on its own from an empty context (its first token at
// position 0), and its negative log-likelihood is the sum over positions 1..n-1 of
// -log softmax(logits after tokens 0..i-1)[token i], in natural log.
#include <cstdint>
#include <vector>

namespace strata {

class Engine;

struct PerplexityResult {
  std::vector<double> window_nll;  // NLL sum per window
  uint64_t predicted_tokens = 0;
  uint64_t top1_correct = 0;       // predictions whose argmax was the next token
  double mean_nll() const;
  double perplexity() const;       // exp(mean_nll)
};

// Scores `windows` with `engine` (sequence slot 0, cleared before each window). Each window needs
// at least 2 tokens and at most the engine's context; throws strata::Error otherwise.
PerplexityResult evaluate_perplexity(Engine& engine, const std::vector<std::vector<int32_t>>& windows);

}  // namespace strata
