#pragma once
// Scaled dot-product attention of a chunk's queries against the KV cache. Internal.
#include "engine/forward.h"

namespace strata {

// For every token t of the chunk (sequence s, position p) and head h:
//   out[t, h] = Σ_{j<=p} softmax_j(q[t,h] · K[s, j, h/g] / sqrt(head_dim)) · V[s, j, h/g]
// (g = n_head / n_head_kv, grouped-query attention). The chunk's own keys/values must already be
// in the cache. Work is split over (token, head) pairs on the engine's threads.
void attend(ForwardContext& ctx, int layer, const float* q, float* out);

}  // namespace strata
