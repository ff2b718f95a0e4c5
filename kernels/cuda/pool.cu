#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/pool.h"

namespace odegan::kernels::cuda {
namespace {

template <class T>
__global__ void avg_fwd(const T* x, T* y, Pool2dGeometry g, PoolDims d) {
  ODEGAN_GRID_STRIDE(o, d.planes * d.p * d.q) {
    const int64_t pl = o / (d.p * d.q), u = (o / d.q) % d.p, v = o % d.q;
    int64_t h0, h1, w0, w1;
    pool_window(g, d, u, v, h0, h1, w0, w1);
    double s = 0;
    for (int64_t i = h0; i < h1; ++i)
      for (int64_t j = w0; j < w1; ++j) s += (double)x[(pl * d.h + i) * d.w + j];
    y[o] = (T)(s / (double)((h1 - h0) * (w1 - w0)));
  }
}

// Gather form (one thread per input element, no atomics): sum the outputs whose window
// covers this element.
template <class T>
__global__ void avg_bwd(const T* gy, T* gx, Pool2dGeometry g, PoolDims d) {
  ODEGAN_GRID_STRIDE(e, d.planes * d.h * d.w) {
    const int64_t pl = e / (d.h * d.w), i = (e / d.w) % d.h, j = e % d.w;
    int64_t u_lo, u_hi, v_lo, v_hi;
    covering_outputs(g, d, i, j, u_lo, u_hi, v_lo, v_hi);
    double s = 0;
    for (int64_t u = u_lo; u <= u_hi; ++u)
      for (int64_t v = v_lo; v <= v_hi; ++v) {
        int64_t h0, h1, w0, w1;
        pool_window(g, d, u, v, h0, h1, w0, w1);
        if (i < h0 || i >= h1 || j < w0 || j >= w1) continue;
        s += (double)gy[(pl * d.p + u) * d.q + v] / (double)((h1 - h0) * (w1 - w0));
      }
    gx[e] = (T)s;
  }
}

template <class T>
__global__ void max_fwd(const T* x, T* y, int32_t* idx, Pool2dGeometry g, PoolDims d) {
  ODEGAN_GRID_STRIDE(o, d.planes * d.p * d.q) {
    const int64_t pl = o / (d.p * d.q), u = (o / d.q) % d.p, v = o % d.q;
    int64_t h0, h1, w0, w1;
    pool_window(g, d, u, v, h0, h1, w0, w1);
    int64_t best = h0 * d.w + w0;
    T bv = x[pl * d.h * d.w + best];
    for (int64_t i = h0; i < h1; ++i)
      for (int64_t j = w0; j < w1; ++j) {
        const T val = x[(pl * d.h + i) * d.w + j];
        if (val > bv || (isnan(val) && !isnan(bv))) {
          bv = val;
          best = i * d.w + j;
        }
      }
    y[o] = bv;
    idx[o] = (int32_t)best;
  }
}

// Gather form of the scatter: each input element sums the outputs that chose it.
template <class T>
__global__ void max_bwd(const T* gy, const int32_t* idx, T* gx, Pool2dGeometry g, PoolDims d) {
  ODEGAN_GRID_STRIDE(e, d.planes * d.h * d.w) {
    const int64_t pl = e / (d.h * d.w), i = (e / d.w) % d.h, j = e % d.w, pos = i * d.w + j;
    int64_t u_lo, u_hi, v_lo, v_hi;
    covering_outputs(g, d, i, j, u_lo, u_hi, v_lo, v_hi);
    T s = T(0);
    for (int64_t u = u_lo; u <= u_hi; ++u)
      for (int64_t v = v_lo; v <= v_hi; ++v) {
        const int64_t o = (pl * d.p + u) * d.q + v;
        if (idx[o] == pos) s += gy[o];
      }
    gx[e] = s;
  }
}

template <class T>
__global__ void max_gather(const T* x, const int32_t* idx, T* y, PoolDims d) {
  ODEGAN_GRID_STRIDE(o, d.planes * d.p * d.q) y[o] = x[(o / (d.p * d.q)) * d.h * d.w + idx[o]];
}

template <class T>
__global__ void up2(const T* x, T* y, PoolDims d) {
  ODEGAN_GRID_STRIDE(o, d.planes * d.p * d.q) {
    const int64_t pl = o / (d.p * d.q), u = (o / d.q) % d.p, v = o % d.q;
    y[o] = x[(pl * d.h + u / 2) * d.w + v / 2];
  }
}

template <class T>
__global__ void up2_bwd(const T* gy, T* gx, PoolDims d) {
  ODEGAN_GRID_STRIDE(e, d.planes * d.h * d.w) {
    const int64_t pl = e / (d.h * d.w), i = (e / d.w) % d.h, j = e % d.w;
    const T* g0 = gy + (pl * d.p + 2 * i) * d.q + 2 * j;
    gx[e] = g0[0] + g0[1] + g0[d.q] + g0[d.q + 1];
  }
}

}  // namespace

#define ODEGAN_LAUNCH(KERNEL, N, REF, ...)                                                       \
  do {                                                                                           \
    if ((N) == 0) return;                                                                        \
    DeviceScope scope(REF);                                                                      \
    visit_float((REF).dtype(), #KERNEL, [&](auto tag) {                                          \
      using T = decltype(tag);                                                                   \
      KERNEL<T><<<grid_for(N), kThreads, 0, scope.stream()>>>(__VA_ARGS__);                      \
    });                                                                                          \
    ODEGAN_CUDA_CHECK_LAUNCH();                                                                  \
  } while (0)

void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g, const PoolDims& d) {
  ODEGAN_LAUNCH(avg_fwd, y.numel(), x, x.data<T>(), y.data<T>(), g, d);
}
void avg_pool2d_backward(const Tensor& gy, Tensor& gx, const Pool2dGeometry& g, const PoolDims& d) {
  ODEGAN_LAUNCH(avg_bwd, gx.numel(), gy, gy.data<T>(), gx.data<T>(), g, d);
}
void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g, const PoolDims& d) {
  ODEGAN_LAUNCH(max_fwd, y.numel(), x, x.data<T>(), y.data<T>(), indices.data<int32_t>(), g, d);
}
void max_pool2d_backward(const Tensor& gy, const Tensor& indices, Tensor& gx, const Pool2dGeometry& g,
                         const PoolDims& d) {
  ODEGAN_LAUNCH(max_bwd, gx.numel(), gy, gy.data<T>(), indices.data<int32_t>(), gx.data<T>(), g, d);
}
void max_pool2d_gather(const Tensor& x, const Tensor& indices, Tensor& y, const PoolDims& d) {
  ODEGAN_LAUNCH(max_gather, y.numel(), x, x.data<T>(), indices.data<int32_t>(), y.data<T>(), d);
}
void upsample_nearest2x(const Tensor& x, Tensor& y, const PoolDims& d) {
  ODEGAN_LAUNCH(up2, y.numel(), x, x.data<T>(), y.data<T>(), d);
}
void upsample_nearest2x_backward(const Tensor& gy, Tensor& gx, const PoolDims& d) {
  ODEGAN_LAUNCH(up2_bwd, gx.numel(), gy, gy.data<T>(), gx.data<T>(), d);
}

#undef ODEGAN_LAUNCH

}  // namespace odegan::kernels::cuda
