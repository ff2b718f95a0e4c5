// The per-element arithmetic of bilinear resampling (kernels/resize.h), shared by both
// backends: PyTorch's source-index formula, one output pixel, and one input gradient.
#pragma once
#include <cstdint>

#include "core/philox.h"  // ODEGAN_HD
#include "kernels/pool_ops.h"  // PoolDims: planes, input (h, w), output (p, q)

namespace odegan::kernels {

// The two source indices and weights of output index `dst` along one axis (in -> out),
// computed in T as PyTorch's area_pixel_compute_source_index / guard_index_and_lambda do.
template <class T>
ODEGAN_HD void bilinear_source(int64_t dst, int64_t in, int64_t out, int64_t& i0, int64_t& i1, T& l0, T& l1) {
  if (in == out) {  // PyTorch copies
    i0 = i1 = dst, l0 = T(1), l1 = T(0);
    return;
  }
  const T scale = static_cast<T>(in) / static_cast<T>(out);
  T src = scale * (static_cast<T>(dst) + T(0.5)) - T(0.5);
  if (src < T(0)) src = T(0);
  i0 = static_cast<int64_t>(src);  // src >= 0: truncation is floor
  if (i0 > in - 1) i0 = in - 1;
  T frac = src - static_cast<T>(i0);
  l1 = frac < T(0) ? T(0) : (frac > T(1) ? T(1) : frac);
  l0 = T(1) - l1;
  i1 = i0 < in - 1 ? i0 + 1 : i0;
}

// Weight with which output index `dst` reads input index `i` along one axis.
template <class T>
ODEGAN_HD T bilinear_weight(int64_t dst, int64_t i, int64_t in, int64_t out) {
  int64_t i0, i1;
  T l0, l1;
  bilinear_source<T>(dst, in, out, i0, i1, l0, l1);
  return (i0 == i ? l0 : T(0)) + (i1 == i ? l1 : T(0));
}

// The output indices [lo, hi] that may read input index i (floor of the source index is i - 1
// or i); the source index is non-decreasing in the output index, so two binary searches.
template <class T>
ODEGAN_HD void bilinear_readers(int64_t i, int64_t in, int64_t out, int64_t& lo, int64_t& hi) {
  auto first = [&](int64_t target) {  // first dst with i0(dst) >= target, or out
    int64_t a = 0, b = out;
    while (a < b) {
      const int64_t m = (a + b) / 2;
      int64_t i0, i1;
      T l0, l1;
      bilinear_source<T>(m, in, out, i0, i1, l0, l1);
      if (i0 >= target) b = m; else a = m + 1;
    }
    return a;
  };
  lo = first(i - 1);
  hi = first(i + 1) - 1;
}

// One output pixel (u, v) of a plane x (h, w).
template <class T>
ODEGAN_HD T resize_bilinear_at(const T* x, const PoolDims& d, int64_t u, int64_t v) {
  int64_t h0, h1, w0, w1;
  T a0, a1, b0, b1;
  bilinear_source<T>(u, d.h, d.p, h0, h1, a0, a1);
  bilinear_source<T>(v, d.w, d.q, w0, w1, b0, b1);
  return a0 * (b0 * x[h0 * d.w + w0] + b1 * x[h0 * d.w + w1]) + a1 * (b0 * x[h1 * d.w + w0] + b1 * x[h1 * d.w + w1]);
}

// The gradient of input pixel (i, j) from a plane gy (p, q), summed in double.
template <class T>
ODEGAN_HD T resize_bilinear_adjoint_at(const T* gy, const PoolDims& d, int64_t i, int64_t j) {
  int64_t u0, u1, v0, v1;
  bilinear_readers<T>(i, d.h, d.p, u0, u1);
  bilinear_readers<T>(j, d.w, d.q, v0, v1);
  double s = 0;
  for (int64_t u = u0; u <= u1; ++u) {
    const T wu = bilinear_weight<T>(u, i, d.h, d.p);
    if (wu == T(0)) continue;
    double row = 0;
    for (int64_t v = v0; v <= v1; ++v) row += static_cast<double>(bilinear_weight<T>(v, j, d.w, d.q) * gy[u * d.q + v]);
    s += static_cast<double>(wu) * row;
  }
  return static_cast<T>(s);
}

}  // namespace odegan::kernels
