#include "engine/forward.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"

namespace strata {

void ForwardContext::matmul(const Weight& w, const float* x, int64_t n, float* y) const {
  if (n <= 0) return;
  strata::matmul(make_weight_view(w.data, w.type, w.rows, w.cols), x, n, y, *pool, ws.qx);
}

void ForwardContext::matmul_shared(std::initializer_list<Output> outs, const float* x, int64_t n) const {
  if (n <= 0) return;
  bool have = false;
  for (const Output& o : outs) {
    const Weight& w = o.w;
    if (!have || ws.qx.dot_type() != dot_type(w.type) || ws.qx.cols() != w.cols) {
      ws.qx.quantize(w.type, x, n, w.cols, w.cols, *pool);
      have = true;
    }
    matmul_quantized(make_weight_view(w.data, w.type, w.rows, w.cols), ws.qx, o.y, w.rows, *pool);
  }
}

}  // namespace strata
