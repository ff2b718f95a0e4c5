#include "kernels/cpu/pool.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/parallel.h"

namespace odegan::kernels::cpu {

namespace {
// Planes per parallel chunk for pooling forwards (each plane writes only its own outputs).
int64_t plane_grain(const Pool2dGeometry& g, const PoolDims& d) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, d.p * d.q * g.kernel_h * g.kernel_w));
}
}  // namespace

void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g, const PoolDims& d) {
  visit_float(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    parallel_for(d.planes, plane_grain(g, d), [&](int64_t begin, int64_t end) {
      for (int64_t pl = begin; pl < end; ++pl)
        for (int64_t u = 0; u < d.p; ++u)
          for (int64_t v = 0; v < d.q; ++v) {
            int64_t h0, h1, w0, w1;
            pool_window(g, d, u, v, h0, h1, w0, w1);
            double s = 0;
            for (int64_t i = h0; i < h1; ++i)
              for (int64_t j = w0; j < w1; ++j) s += xp[(pl * d.h + i) * d.w + j];
            yp[(pl * d.p + u) * d.q + v] = static_cast<T>(s / double((h1 - h0) * (w1 - w0)));
          }
    });
  });
}

void avg_pool2d_backward(const Tensor& gy, Tensor& gx, const Pool2dGeometry& g, const PoolDims& d) {
  visit_float(gy.dtype(), "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* gp = gy.data<T>();
    T* o = gx.data<T>();
    for (int64_t i = 0; i < gx.numel(); ++i) o[i] = T(0);
    for (int64_t pl = 0; pl < d.planes; ++pl)
      for (int64_t u = 0; u < d.p; ++u)
        for (int64_t v = 0; v < d.q; ++v) {
          int64_t h0, h1, w0, w1;
          pool_window(g, d, u, v, h0, h1, w0, w1);
          const T share = gp[(pl * d.p + u) * d.q + v] / T((h1 - h0) * (w1 - w0));
          for (int64_t i = h0; i < h1; ++i)
            for (int64_t j = w0; j < w1; ++j) o[(pl * d.h + i) * d.w + j] += share;
        }
  });
}

void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g, const PoolDims& d) {
  visit_float(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    int32_t* ip = indices.data<int32_t>();
    parallel_for(d.planes, plane_grain(g, d), [&](int64_t begin, int64_t end) {
      for (int64_t pl = begin; pl < end; ++pl)
        for (int64_t u = 0; u < d.p; ++u)
          for (int64_t v = 0; v < d.q; ++v) {
            int64_t h0, h1, w0, w1;
            pool_window(g, d, u, v, h0, h1, w0, w1);
            int64_t best = h0 * d.w + w0;
            T bv = xp[pl * d.h * d.w + best];
            for (int64_t i = h0; i < h1; ++i)
              for (int64_t j = w0; j < w1; ++j) {
                const T val = xp[(pl * d.h + i) * d.w + j];
                if (val > bv || (std::isnan(val) && !std::isnan(bv))) {
                  bv = val;
                  best = i * d.w + j;
                }
              }
            yp[(pl * d.p + u) * d.q + v] = bv;
            ip[(pl * d.p + u) * d.q + v] = static_cast<int32_t>(best);
          }
    });
  });
}

void max_pool2d_backward(const Tensor& gy, const Tensor& indices, Tensor& gx, const Pool2dGeometry&,
                         const PoolDims& d) {
  visit_float(gy.dtype(), "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* gp = gy.data<T>();
    const int32_t* ip = indices.data<int32_t>();
    T* o = gx.data<T>();
    for (int64_t i = 0; i < gx.numel(); ++i) o[i] = T(0);
    for (int64_t pl = 0; pl < d.planes; ++pl)
      for (int64_t k = 0; k < d.p * d.q; ++k) o[pl * d.h * d.w + ip[pl * d.p * d.q + k]] += gp[pl * d.p * d.q + k];
  });
}

void max_pool2d_gather(const Tensor& x, const Tensor& indices, Tensor& y, const PoolDims& d) {
  visit_float(x.dtype(), "max_pool2d_gather", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    const int32_t* ip = indices.data<int32_t>();
    T* yp = y.data<T>();
    for (int64_t pl = 0; pl < d.planes; ++pl)
      for (int64_t k = 0; k < d.p * d.q; ++k) yp[pl * d.p * d.q + k] = xp[pl * d.h * d.w + ip[pl * d.p * d.q + k]];
  });
}

void upsample_nearest2x(const Tensor& x, Tensor& y, const PoolDims& d) {
  visit_float(x.dtype(), "upsample_nearest2x", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for (int64_t pl = 0; pl < d.planes; ++pl)
      for (int64_t u = 0; u < d.p; ++u) {
        const T* xr = xp + (pl * d.h + u / 2) * d.w;
        T* yr = yp + (pl * d.p + u) * d.q;
        for (int64_t v = 0; v < d.q; ++v) yr[v] = xr[v / 2];
      }
  });
}

void upsample_nearest2x_backward(const Tensor& gy, Tensor& gx, const PoolDims& d) {
  // Here d describes x = gx (h, w) and y = gy (p, q) = (2h, 2w).
  visit_float(gy.dtype(), "upsample_nearest2x_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* gp = gy.data<T>();
    T* o = gx.data<T>();
    for (int64_t pl = 0; pl < d.planes; ++pl)
      for (int64_t i = 0; i < d.h; ++i)
        for (int64_t j = 0; j < d.w; ++j) {
          const T* g0 = gp + (pl * d.p + 2 * i) * d.q + 2 * j;
          o[(pl * d.h + i) * d.w + j] = g0[0] + g0[1] + g0[d.q] + g0[d.q + 1];
        }
  });
}

}  // namespace odegan::kernels::cpu
