#include "engine/routing_workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "common/error.h"
#include "engine/routing_trace.h"
#include "loader/model.h"

namespace strata {
namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Salts that keep the hash streams of different decisions apart.
enum Salt : uint64_t { kKeep = 1, kDraw = 2, kPredictKeep = 3, kPredictDraw = 4, kPermute = 5 };

// A choice lasts at most this many tokens, so finding when it was made scans back a bounded way.
constexpr int32_t kMaxRun = 256;
// The emulated predictor keeps a token's true choices on the stack.
constexpr int kMaxUsed = 256;

class ZipfWorkload final : public RoutingWorkload {
 public:
  ZipfWorkload(const Model& model, double s, double locality, double recall, uint64_t seed)
      : RoutingWorkload(model.hparams().n_expert, model.hparams().n_expert_used, recall, seed,
                        fmt::format("zipf(s={}, locality={}, recall={}, seed={})", s, locality, recall, seed)),
        locality_(locality) {
    const int n = n_expert_;
    double sum = 0;
    for (int r = 0; r < n; ++r) {
      sum += 1.0 / std::pow(static_cast<double>(r + 1), s);
      cdf_.push_back(sum);
    }
    for (double& c : cdf_) c /= sum;
    // Each layer ranks the experts differently, as a trained model's layers do.
    for (int l = 0; l < model.hparams().n_layer; ++l) {
      std::vector<int32_t> order(static_cast<size_t>(n));
      for (int e = 0; e < n; ++e) order[static_cast<size_t>(e)] = e;
      for (int i = n - 1; i > 0; --i) {
        const uint64_t h = routing_hash({seed, kPermute, static_cast<uint64_t>(l), static_cast<uint64_t>(i)});
        std::swap(order[static_cast<size_t>(i)], order[h % static_cast<uint64_t>(i + 1)]);
      }
      expert_of_rank_.push_back(std::move(order));
    }
  }

 private:
  void choose(int layer, uint64_t stream, int32_t pos, int32_t* experts, float* weights) const override {
    const std::vector<int32_t>& ranked = expert_of_rank_[static_cast<size_t>(layer)];
    const uint64_t L = static_cast<uint64_t>(layer);
    for (int j = 0; j < n_used_; ++j) {
      const uint64_t J = static_cast<uint64_t>(j);
      // The position where choice j was last drawn: it is kept at each later position with
      // probability locality_.
      int32_t start = pos;
      while (start > 0 && start % kMaxRun != 0 &&
             routing_uniform(routing_hash({seed(), kKeep, stream, L, J, static_cast<uint64_t>(start)})) < locality_) {
        --start;
      }
      int32_t chosen = -1;
      for (uint64_t attempt = 0; attempt < 64 && chosen < 0; ++attempt) {
        const double u =
            routing_uniform(routing_hash({seed(), kDraw, stream, L, J, static_cast<uint64_t>(start), attempt}));
        const size_t rank = std::min<size_t>(
            static_cast<size_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin()), cdf_.size() - 1);
        if (std::find(experts, experts + j, ranked[rank]) == experts + j) chosen = ranked[rank];
      }
      // A very skewed popularity keeps drawing experts already taken: take the most popular free one.
      for (size_t rank = 0; chosen < 0; ++rank) {
        if (std::find(experts, experts + j, ranked[rank]) == experts + j) chosen = ranked[rank];
      }
      experts[j] = chosen;
      if (weights != nullptr) weights[j] = 1.0f / static_cast<float>(n_used_);
    }
  }

  double locality_;
  std::vector<double> cdf_;                          // by popularity rank
  std::vector<std::vector<int32_t>> expert_of_rank_;  // [layer][rank]
};

class TraceWorkload final : public RoutingWorkload {
 public:
  TraceWorkload(RoutingTrace trace, const std::string& file, double recall)
      : RoutingWorkload(trace.n_expert(), trace.n_used(), recall, 0,
                        fmt::format("trace({}, {} tokens, recall={})", file, trace.n_tokens(), recall)),
        trace_(std::move(trace)),
        // Golden-ratio offsets spread the sequences evenly over the trace.
        stride_(std::max<int64_t>(1, std::llround(static_cast<double>(trace_.n_tokens()) * 0.6180339887498949))) {}

 private:
  void choose(int layer, uint64_t stream, int32_t pos, int32_t* experts, float* weights) const override {
    const int64_t n = trace_.n_tokens();
    const int64_t token = static_cast<int64_t>((stream % static_cast<uint64_t>(n)) * static_cast<uint64_t>(stride_) %
                                                static_cast<uint64_t>(n));
    const int64_t at = (token + pos) % n;
    std::copy_n(trace_.experts(at, layer).data(), n_used_, experts);
    if (weights != nullptr) std::copy_n(trace_.weights(at, layer).data(), n_used_, weights);
  }

  RoutingTrace trace_;
  int64_t stride_;
};

double parse_number(const std::string& key, const std::string& value, double lo, double hi, bool hi_open) {
  char* end = nullptr;
  const double x = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(x) || x < lo || x > hi || (hi_open && x >= hi)) {
    fail("routing workload: {}={} is not a number in [{}, {}{}", key, value, lo, hi, hi_open ? ")" : "]");
  }
  return x;
}

}  // namespace

uint64_t routing_hash(std::initializer_list<uint64_t> values) {
  uint64_t h = 0x2545f4914f6cdd1dull;
  for (uint64_t v : values) h = splitmix(h ^ splitmix(v));
  return h;
}

RoutingWorkload::RoutingWorkload(int n_expert, int n_used, double recall, uint64_t seed, std::string label)
    : n_expert_(n_expert), n_used_(n_used), recall_(recall), seed_(seed), label_(std::move(label)) {
  if (n_used_ > kMaxUsed) fail("routing workloads choose at most {} experts per token, not {}", kMaxUsed, n_used_);
}

void RoutingWorkload::begin_chunk(std::span<const BatchToken> tokens) {
  for (const BatchToken& t : tokens) {
    if (t.pos != 0) continue;
    if (static_cast<size_t>(t.seq) >= stream_of_seq_.size()) stream_of_seq_.resize(static_cast<size_t>(t.seq) + 1, 0);
    stream_of_seq_[static_cast<size_t>(t.seq)] = next_stream_++;
  }
}

void RoutingWorkload::select(int layer, const BatchToken& t, int32_t* experts, float* weights) const {
  const size_t seq = static_cast<size_t>(t.seq);
  choose(layer, seq < stream_of_seq_.size() ? stream_of_seq_[seq] : 0, t.pos, experts, weights);
}

void RoutingWorkload::predict(int layer, const BatchToken& t, int32_t* experts) const {
  const size_t seq = static_cast<size_t>(t.seq);
  const uint64_t stream = seq < stream_of_seq_.size() ? stream_of_seq_[seq] : 0;
  choose(layer, stream, t.pos, experts, nullptr);
  if (n_used_ >= n_expert_) return;  // nothing else to predict wrongly
  // The true choices stay at the front as they are found; replaced ones are taken from the rest.
  int32_t truth[kMaxUsed];
  const int k = n_used_;
  std::copy_n(experts, k, truth);
  auto in = [](const int32_t* list, int n, int32_t e) { return std::find(list, list + n, e) != list + n; };
  const uint64_t base[] = {seed_, stream, static_cast<uint64_t>(layer), static_cast<uint64_t>(t.pos)};
  int replaced = 0;
  for (int j = 0; j < k; ++j) {
    const uint64_t J = static_cast<uint64_t>(j);
    if (routing_uniform(routing_hash({base[0], kPredictKeep, base[1], base[2], base[3], J})) < recall_) continue;
    if (n_expert_ - k - replaced <= 0) continue;  // every other expert is already predicted
    ++replaced;
    for (uint64_t attempt = 0;; ++attempt) {
      const int32_t e = static_cast<int32_t>(
          routing_hash({base[0], kPredictDraw, base[1], base[2], base[3], J, attempt}) % static_cast<uint64_t>(n_expert_));
      if (!in(truth, k, e) && !in(experts, j, e)) {
        experts[j] = e;
        break;
      }
    }
  }
}

std::unique_ptr<RoutingWorkload> make_routing_workload(std::string_view spec_view, const Model& model) {
  const std::string spec(spec_view);
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  std::map<std::string, std::string> params;
  if (colon != std::string::npos) {
    const std::string rest = spec.substr(colon + 1);
    size_t at = 0;
    while (at <= rest.size()) {
      const size_t comma = std::min(rest.find(',', at), rest.size());
      const std::string item = rest.substr(at, comma - at);
      const size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0) fail("routing workload '{}': '{}' is not KEY=VALUE", spec, item);
      if (!params.emplace(item.substr(0, eq), item.substr(eq + 1)).second) {
        fail("routing workload '{}': '{}' is given twice", spec, item.substr(0, eq));
      }
      at = comma + 1;
    }
  }
  auto take = [&](const char* key, const std::string& fallback) {
    auto it = params.find(key);
    if (it == params.end()) return fallback;
    std::string v = it->second;
    params.erase(it);
    return v;
  };
  auto no_more = [&](const char* known) {
    if (!params.empty()) fail("routing workload '{}': unknown key '{}' (known: {})", spec, params.begin()->first, known);
  };
  if (kind == "model") {
    no_more("none");
    return nullptr;
  }
  const Hparams& hp = model.hparams();
  if (kind != "zipf" && kind != "trace") fail("routing workload '{}': expected model, zipf[:...] or trace:file=FILE", spec);
  if (hp.n_expert <= 0) fail("routing workload '{}': the model has no routed experts", spec);
  const double recall = parse_number("recall", take("recall", "0.8"), 0, 1, false);
  if (kind == "zipf") {
    const double s = parse_number("s", take("s", "0.8"), 0, 8, false);
    const double locality = parse_number("locality", take("locality", "0.5"), 0, 1, true);
    const double seed = parse_number("seed", take("seed", "1"), 0, 4294967295.0, false);
    no_more("s, locality, recall, seed");
    return std::make_unique<ZipfWorkload>(model, s, locality, recall, static_cast<uint64_t>(seed));
  }
  const std::string file = take("file", "");
  no_more("file, recall");
  if (file.empty()) fail("routing workload '{}': give the trace as trace:file=FILE", spec);
  RoutingTrace trace = RoutingTrace::load(file);
  if (trace.n_layer() != hp.n_layer || trace.n_expert() != hp.n_expert || trace.n_used() != hp.n_expert_used) {
    fail("routing trace '{}' has {} layers of {} experts ({} used); the model has {} layers of {} ({} used)", file,
         trace.n_layer(), trace.n_expert(), trace.n_used(), hp.n_layer, hp.n_expert, hp.n_expert_used);
  }
  for (int l = 0; l < hp.n_layer; ++l) {
    if (trace.has(0, l) != model.layer_has_experts(l)) {
      fail("routing trace '{}' {} layer {}, which the model {}", file, trace.has(0, l) ? "routes" : "does not route", l,
           model.layer_has_experts(l) ? "routes" : "does not route");
    }
  }
  return std::make_unique<TraceWorkload>(std::move(trace), file, recall);
}

}  // namespace strata
