#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace strata {

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  }
  return best;
}

Sampler::Sampler(const SamplerParams& params, int n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
  if (n_vocab <= 0) fail("sampler: vocabulary size must be positive");
  if (!(params.top_p >= 0.0f && params.top_p <= 1.0f)) fail("top-p must be in [0, 1], got {}", params.top_p);
  if (!(params.min_p >= 0.0f && params.min_p <= 1.0f)) fail("min-p must be in [0, 1], got {}", params.min_p);
  if (!(params.repeat_penalty > 0.0f)) fail("repeat penalty must be positive, got {}", params.repeat_penalty);
  if (!std::isfinite(params.temperature)) fail("temperature must be a finite number");
  if (!std::isfinite(params.presence_penalty) || !std::isfinite(params.frequency_penalty)) {
    fail("presence/frequency penalties must be finite numbers");
  }
  if (params.repeat_last_n < -1) fail("repeat-last-n must be -1 (all) or >= 0");
  counts_.assign(static_cast<size_t>(n_vocab), 0);
  cand_.reserve(static_cast<size_t>(n_vocab));
  probs_.reserve(static_cast<size_t>(n_vocab));
}

void Sampler::reset() {
  history_.clear();
  std::fill(counts_.begin(), counts_.end(), 0);
  rng_.seed(params_.seed);
}

void Sampler::accept(int32_t token) {
  if (token < 0 || token >= n_vocab_) return;
  if (params_.repeat_last_n == 0) return;
  history_.push_back(token);
  ++counts_[static_cast<size_t>(token)];
  if (params_.repeat_last_n > 0 && history_.size() > static_cast<size_t>(params_.repeat_last_n)) {
    --counts_[static_cast<size_t>(history_.front())];
    history_.pop_front();
  }
}

void Sampler::apply_penalties() {
  const bool any = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                   params_.frequency_penalty != 0.0f;
  if (!any || history_.empty()) return;
  // cand_ is indexed by token id here (it is filled in id order before sorting).
  for (auto& c : cand_) {
    const int n = counts_[static_cast<size_t>(c.id)];
    if (n == 0) continue;
    if (c.logit <= 0.0f) {
      c.logit *= params_.repeat_penalty;
    } else {
      c.logit /= params_.repeat_penalty;
    }
    c.logit -= static_cast<float>(n) * params_.frequency_penalty + params_.presence_penalty;
  }
}

int32_t Sampler::sample(std::span<const float> logits) {
  STRATA_CHECK(logits.size() == static_cast<size_t>(n_vocab_));
  cand_.clear();
  for (int32_t i = 0; i < n_vocab_; ++i) cand_.push_back({i, logits[static_cast<size_t>(i)]});
  apply_penalties();

  if (params_.temperature <= 0.0f) {
    size_t best = 0;
    for (size_t i = 1; i < cand_.size(); ++i) {
      if (cand_[i].logit > cand_[best].logit) best = i;
    }
    return cand_[best].id;
  }

  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t n = cand_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    n = static_cast<size_t>(params_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(n), cand_.end(), by_logit);
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  cand_.resize(n);

  // Softmax over what is left (at temperature 1, as llama.cpp's top-p/min-p see it).
  auto softmax = [&](float temp) {
    probs_.resize(cand_.size());
    const float mx = cand_[0].logit;
    double sum = 0.0;
    for (size_t i = 0; i < cand_.size(); ++i) {
      probs_[i] = std::exp((cand_[i].logit - mx) / temp);
      sum += probs_[i];
    }
    for (auto& p : probs_) p = static_cast<float>(p / sum);
  };

  if (params_.top_p < 1.0f) {
    softmax(1.0f);
    double cum = 0.0;
    size_t keep = cand_.size();
    for (size_t i = 0; i < cand_.size(); ++i) {
      cum += probs_[i];
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    cand_.resize(std::max<size_t>(keep, 1));
  }
  if (params_.min_p > 0.0f) {
    // Relative to the most likely token: keep logit >= max + log(min_p).
    const float threshold = cand_[0].logit + std::log(params_.min_p);
    size_t keep = 1;
    while (keep < cand_.size() && cand_[keep].logit >= threshold) ++keep;
    cand_.resize(keep);
  }

  softmax(params_.temperature);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const double r = uni(rng_);
  double cum = 0.0;
  for (size_t i = 0; i < cand_.size(); ++i) {
    cum += probs_[i];
    if (r < cum) return cand_[i].id;
  }
  return cand_.back().id;
}

}  // namespace strata
