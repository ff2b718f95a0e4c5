#include "kernels/broadcast.h"

#include "core/error.h"
#include "kernels/dispatch.h"

namespace odegan::kernels {

namespace detail {
void throw_no_cuda(const char* op) {
  ODEGAN_FAIL(op, ": tensor is on CUDA but this build has no CUDA support");
}
}  // namespace detail

namespace {
// Row-major strides of `s` aligned to an output of rank n; broadcast dims get stride 0.
void aligned_strides(const Shape& s, const Shape& out, int64_t* st) {
  int n = out.ndim(), off = n - s.ndim();
  int64_t acc = 1;
  for (int i = n - 1; i >= 0; --i) {
    int j = i - off;
    int64_t d = j >= 0 ? s[j] : 1;
    st[i] = (d == 1 && out[i] != 1) ? 0 : acc;
    acc *= d;
  }
}
}  // namespace

BroadcastPlan make_broadcast_plan(const Shape& x, const Shape& y, const Shape& out) {
  BroadcastPlan p;
  p.numel = out.numel();
  if (x == out && y == out) {
    p.kind = BroadcastPlan::same;
  } else if (y.numel() == 1 && x == out) {
    p.kind = BroadcastPlan::y_scalar;
  } else if (x.numel() == 1 && y == out) {
    p.kind = BroadcastPlan::x_scalar;
  }
  int64_t xs[BroadcastPlan::kMax], ys[BroadcastPlan::kMax];
  aligned_strides(x, out, xs);
  aligned_strides(y, out, ys);
  // Drop size-1 output dims, then merge dim i into i+1 when both inputs allow it.
  int n = 0;
  for (int i = 0; i < out.ndim(); ++i) {
    if (out[i] == 1) continue;
    if (n > 0) {
      int64_t d = out[i];
      bool x_ok = xs[i] * d == p.xs[n - 1] || (xs[i] == 0 && p.xs[n - 1] == 0);
      bool y_ok = ys[i] * d == p.ys[n - 1] || (ys[i] == 0 && p.ys[n - 1] == 0);
      if (x_ok && y_ok) {
        p.dims[n - 1] *= d;
        p.xs[n - 1] = xs[i];
        p.ys[n - 1] = ys[i];
        continue;
      }
    }
    p.dims[n] = out[i];
    p.xs[n] = xs[i];
    p.ys[n] = ys[i];
    ++n;
  }
  if (n == 0) {  // all dims 1 (or a scalar)
    p.dims[0] = 1;
    p.xs[0] = p.ys[0] = 0;
    n = 1;
  }
  p.ndim = n;
  return p;
}

}  // namespace odegan::kernels
