#include "kernels/cpu/optim.h"

#include "kernels/cpu/parallel.h"
#include "kernels/optim_ops.h"

namespace odegan::kernels::cpu {

void adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, Tensor& dir, double lr,
                 const AdamParams& p) {
  visit_float(grad.dtype(), "adam_update", [&](auto tag) {
    using T = decltype(tag);
    const T* g = grad.data<T>();
    T* mp = m.data<T>();
    T* vp = v.data<T>();
    T* pp = param.defined() ? param.data<T>() : nullptr;
    T* dp = dir.defined() ? dir.data<T>() : nullptr;
    const T b1 = T(p.beta1), b2 = T(p.beta2), eps = T(p.eps), tlr = T(lr);
    const T ibc1 = T(1.0 / (1.0 - std::pow(p.beta1, double(p.step))));
    const T ibc2 = T(1.0 / (1.0 - std::pow(p.beta2, double(p.step))));
    parallel_for(grad.numel(), kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        T d = ops::adam_direction(g[i], mp[i], vp[i], b1, b2, eps, ibc1, ibc2);
        if (dp) dp[i] = d;
        if (pp) pp[i] -= tlr * d;
      }
    });
  });
}

}  // namespace odegan::kernels::cpu
