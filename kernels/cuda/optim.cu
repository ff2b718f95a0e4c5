#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/optim.h"
#include "kernels/optim_ops.h"

namespace odegan::kernels::cuda {
namespace {

template <class T>
__global__ void adam_kernel(T* param, const T* g, T* m, T* v, T* dir, int64_t n, T lr, T b1, T b2, T eps, T ibc1,
                            T ibc2) {
  ODEGAN_GRID_STRIDE(i, n) {
    T mi = m[i], vi = v[i];
    T d = ops::adam_direction(g[i], mi, vi, b1, b2, eps, ibc1, ibc2);
    m[i] = mi;
    v[i] = vi;
    if (dir) dir[i] = d;
    if (param) param[i] -= lr * d;
  }
}

}  // namespace

void adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, Tensor& dir, double lr,
                 const AdamParams& p) {
  const int64_t n = grad.numel();
  if (n == 0) return;
  DeviceScope scope(grad);
  visit_float(grad.dtype(), "adam_update", [&](auto tag) {
    using T = decltype(tag);
    const T ibc1 = T(1.0 / (1.0 - std::pow(p.beta1, double(p.step))));
    const T ibc2 = T(1.0 / (1.0 - std::pow(p.beta2, double(p.step))));
    adam_kernel<T><<<grid_for(n), kThreads, 0, scope.stream()>>>(
        param.defined() ? param.data<T>() : nullptr, grad.data<T>(), m.data<T>(), v.data<T>(),
        dir.defined() ? dir.data<T>() : nullptr, n, T(lr), T(p.beta1), T(p.beta2), T(p.eps), ibc1, ibc2);
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace odegan::kernels::cuda
