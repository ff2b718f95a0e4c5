#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/resize.h"
#include "kernels/resize_ops.h"

namespace odegan::kernels::cuda {
namespace {

template <class T>
__global__ void resize_fwd(const T* x, T* y, PoolDims d) {
  ODEGAN_GRID_STRIDE(o, d.planes * d.p * d.q) {
    const int64_t pl = o / (d.p * d.q), u = (o / d.q) % d.p, v = o % d.q;
    y[o] = resize_bilinear_at(x + pl * d.h * d.w, d, u, v);
  }
}

template <class T>
__global__ void resize_bwd(const T* gy, T* gx, PoolDims d) {
  ODEGAN_GRID_STRIDE(e, d.planes * d.h * d.w) {
    const int64_t pl = e / (d.h * d.w), i = (e / d.w) % d.h, j = e % d.w;
    gx[e] = resize_bilinear_adjoint_at(gy + pl * d.p * d.q, d, i, j);
  }
}

}  // namespace

void resize_bilinear(const Tensor& x, Tensor& y, const PoolDims& d) {
  const int64_t n = y.numel();
  if (n == 0) return;
  DeviceScope scope(x);
  visit_float(x.dtype(), "resize_bilinear", [&](auto tag) {
    using T = decltype(tag);
    resize_fwd<T><<<grid_for(n), kThreads, 0, scope.stream()>>>(x.data<T>(), y.data<T>(), d);
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

void resize_bilinear_backward(const Tensor& gy, Tensor& gx, const PoolDims& d) {
  const int64_t n = gx.numel();
  if (n == 0) return;
  DeviceScope scope(gy);
  visit_float(gy.dtype(), "resize_bilinear_backward", [&](auto tag) {
    using T = decltype(tag);
    resize_bwd<T><<<grid_for(n), kThreads, 0, scope.stream()>>>(gy.data<T>(), gx.data<T>(), d);
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace odegan::kernels::cuda
