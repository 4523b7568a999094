#pragma once
// The experts a model's routers chose, token by token and layer by layer, with their weights.
// `strata run --record-routing FILE` records one; `strata bench --routing trace:file=FILE` replays
// it in place of the routers, so a storage study can use real routing (say, recorded from a
// trained checkpoint on a machine that holds it) on any model of the same shape.
//
// File format (text, one record per line, written in token order):
//   strata-routing-trace 1 layers <L> experts <E> used <K>
//   <token> <layer> <expert_1> ... <expert_K> <weight_1> ... <weight_K>
// Tokens are numbered from 0 without gaps; each token lists the same set of (MoE) layers.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace strata {

class RoutingTrace {
 public:
  RoutingTrace(int n_layer, int n_expert, int n_used);

  // Records what token `token` chose at `layer`, replacing an earlier record of the same pair (a
  // re-evaluated position). Tokens may only extend the trace by one at a time.
  void record(int64_t token, int layer, std::span<const int32_t> experts, std::span<const float> weights);

  int n_layer() const { return n_layer_; }
  int n_expert() const { return n_expert_; }
  int n_used() const { return n_used_; }
  int64_t n_tokens() const { return n_tokens_; }
  bool has(int64_t token, int layer) const { return experts(token, layer)[0] >= 0; }
  std::span<const int32_t> experts(int64_t token, int layer) const;
  std::span<const float> weights(int64_t token, int layer) const;

  // Throws strata::Error naming the file (and, for load, the line) on any problem; load checks
  // every field, so a hostile file is an error, never an out-of-range expert.
  void save(const std::string& path) const;
  static RoutingTrace load(const std::string& path);
  // The same from the file's text; `name` stands for the file in messages.
  static RoutingTrace parse(const std::string& text, const std::string& name);

 private:
  size_t offset(int64_t token, int layer) const;

  int n_layer_, n_expert_, n_used_;
  int64_t n_tokens_ = 0;
  std::vector<int32_t> experts_;  // [token][layer][used]; -1: layer not recorded for the token
  std::vector<float> weights_;
};

}  // namespace strata
