#include "engine/perplexity.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "engine/engine.h"

namespace strata {

double PerplexityResult::mean_nll() const {
  double total = 0.0;
  for (double w : window_nll) total += w;
  return predicted_tokens == 0 ? 0.0 : total / static_cast<double>(predicted_tokens);
}

double PerplexityResult::perplexity() const { return std::exp(mean_nll()); }

PerplexityResult evaluate_perplexity(Engine& engine, const std::vector<std::vector<int32_t>>& windows) {
  PerplexityResult result;
  Batch batch;
  for (size_t w = 0; w < windows.size(); ++w) {
    const auto& ids = windows[w];
    if (ids.size() < 2) fail("perplexity window {} has {} tokens; at least 2 are needed", w, ids.size());
    if (ids.size() > static_cast<size_t>(engine.n_ctx())) {
      fail("perplexity window {} has {} tokens, more than the context of {}", w, ids.size(), engine.n_ctx());
    }
    engine.clear_seq(0);
    batch.clear();
    // The last token's logits predict nothing inside the window.
    for (size_t i = 0; i < ids.size(); ++i) batch.add(ids[i], 0, static_cast<int32_t>(i), i + 1 < ids.size());
    engine.decode(batch);

    double nll = 0.0;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const auto row = engine.logits(i);
      const int32_t next = ids[i + 1];
      // Log-sum-exp in double around the max, so large logits neither overflow nor lose digits.
      const float max_logit = *std::max_element(row.begin(), row.end());
      double sum = 0.0;
      for (float v : row) sum += std::exp(static_cast<double>(v) - max_logit);
      nll += std::log(sum) + max_logit - static_cast<double>(row[static_cast<size_t>(next)]);
      if (row[static_cast<size_t>(next)] == max_logit) ++result.top1_correct;
    }
    result.window_nll.push_back(nll);
    result.predicted_tokens += ids.size() - 1;
  }
  engine.clear_seq(0);
  return result;
}

}  // namespace strata
