#pragma once
// A labelled stand-in for a model's routers, for storage studies (`strata bench --routing`).
//
// The routers of a model with random weights choose experts with a skew and a temporal locality
// that say little about a trained checkpoint, so cache sizes and policies tuned on them do not
// carry over. A workload replaces what the routers choose, never silently (label() goes into
// every result), with either
//   zipf:s=S,locality=P,recall=R,seed=N  experts drawn from a Zipf(S) popularity that is a
//       different permutation in each layer; each of a token's K choices is kept from the
//       sequence's previous token with probability P (and redrawn otherwise);
//   trace:file=FILE,recall=R             a routing trace recorded by `strata run --record-routing`
//       replayed; each new sequence starts at a different offset into it (the first at 0, so a
//       single replay of the recording's prompt reproduces its routing exactly).
// The engine's predictor (prefetch) cannot apply a router to a workload, so it is emulated: the
// prediction for a layer is its true choice with each expert kept with probability R and replaced
// by another one otherwise (R = 1: an oracle; the model's own predictor reaches about 0.8 on the
// generated Qwen3-30B-A3B-shape files).
//
// Choices are a pure function of (sequence's stream, layer, position), so a prediction made a
// layer early agrees with the later choice, and every bench configuration sees the same routing.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/batch.h"

namespace strata {

class Model;

class RoutingWorkload {
 public:
  virtual ~RoutingWorkload() = default;

  // Called once per forward chunk, before its layers: a token at position 0 starts a sequence,
  // which gets the workload's next stream. Not thread-safe (the engine runs chunks one at a time).
  void begin_chunk(std::span<const BatchToken> tokens);

  // The n_used() distinct experts token `t` uses at `layer`, and their weights.
  void select(int layer, const BatchToken& t, int32_t* experts, float* weights) const;
  // What the emulated predictor says token `t` will choose at `layer` (n_used() distinct experts).
  void predict(int layer, const BatchToken& t, int32_t* experts) const;

  const std::string& label() const { return label_; }
  int n_used() const { return n_used_; }
  double recall() const { return recall_; }

 protected:
  RoutingWorkload(int n_expert, int n_used, double recall, uint64_t seed, std::string label);
  virtual void choose(int layer, uint64_t stream, int32_t pos, int32_t* experts, float* weights) const = 0;
  uint64_t seed() const { return seed_; }

  int n_expert_, n_used_;

 private:
  double recall_;
  uint64_t seed_;
  std::string label_;
  std::vector<uint64_t> stream_of_seq_;
  uint64_t next_stream_ = 0;
};

// Parses `spec` (see above; "model" = no workload, returns nullptr) for `model`, whose MoE shape
// a trace must match. Throws strata::Error naming the bad key or value.
std::unique_ptr<RoutingWorkload> make_routing_workload(std::string_view spec, const Model& model);

// Deterministic hashing for the workloads: a 64-bit mix of the values, and a uniform double in
// [0, 1) from a hash.
uint64_t routing_hash(std::initializer_list<uint64_t> values);
inline double routing_uniform(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

}  // namespace strata
