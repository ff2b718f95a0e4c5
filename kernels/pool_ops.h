// Pooling geometry shared by both backends, and the window arithmetic of one output.
#pragma once
#include <cstdint>

#include "core/philox.h"  // ODEGAN_HD
#include "kernels/pool.h"

namespace odegan::kernels {

// Planes = N * C; input (H, W) and output (P, Q) per plane.
struct PoolDims {
  int64_t planes = 0, h = 0, w = 0, p = 0, q = 0;
};

// The clipped window [h0, h1) x [w0, w1) of output (u, v).
ODEGAN_HD void pool_window(const Pool2dGeometry& g, const PoolDims& d, int64_t u, int64_t v, int64_t& h0,
                                  int64_t& h1, int64_t& w0, int64_t& w1) {
  h0 = u * g.stride_h - g.pad_h;
  w0 = v * g.stride_w - g.pad_w;
  h1 = h0 + g.kernel_h < d.h ? h0 + g.kernel_h : d.h;
  w1 = w0 + g.kernel_w < d.w ? w0 + g.kernel_w : d.w;
  h0 = h0 > 0 ? h0 : 0;
  w0 = w0 > 0 ? w0 : 0;
}

// The outputs [u0, u1] x [v0, v1] whose (unclipped) windows cover input (i, j); empty
// when u0 > u1 or v0 > v1.
ODEGAN_HD void covering_outputs(const Pool2dGeometry& g, const PoolDims& d, int64_t i, int64_t j, int64_t& u0,
                                int64_t& u1, int64_t& v0, int64_t& v1) {
  // u * stride - pad <= i < u * stride - pad + kernel
  const int64_t nu = i + g.pad_h - g.kernel_h + 1, nv = j + g.pad_w - g.kernel_w + 1;
  u0 = nu <= 0 ? 0 : (nu + g.stride_h - 1) / g.stride_h;
  v0 = nv <= 0 ? 0 : (nv + g.stride_w - 1) / g.stride_w;
  u1 = (i + g.pad_h) / g.stride_h;
  v1 = (j + g.pad_w) / g.stride_w;
  u1 = u1 < d.p - 1 ? u1 : d.p - 1;
  v1 = v1 < d.q - 1 ? v1 : d.q - 1;
}

}  // namespace odegan::kernels
