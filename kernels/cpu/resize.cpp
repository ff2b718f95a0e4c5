#include "kernels/cpu/resize.h"

#include <algorithm>

#include "kernels/cpu/parallel.h"
#include "kernels/resize_ops.h"

namespace odegan::kernels::cpu {

void resize_bilinear(const Tensor& x, Tensor& y, const PoolDims& d) {
  visit_float(x.dtype(), "resize_bilinear", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    // One task per output row of every plane.
    parallel_for(d.planes * d.p, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, d.q)),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t r = begin; r < end; ++r) {
                     const int64_t pl = r / d.p, u = r % d.p;
                     const T* plane = xp + pl * d.h * d.w;
                     T* out = yp + r * d.q;
                     for (int64_t v = 0; v < d.q; ++v) out[v] = resize_bilinear_at(plane, d, u, v);
                   }
                 });
  });
}

void resize_bilinear_backward(const Tensor& gy, Tensor& gx, const PoolDims& d) {
  visit_float(gy.dtype(), "resize_bilinear_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* gp = gy.data<T>();
    T* o = gx.data<T>();
    parallel_for(d.planes * d.h, std::max<int64_t>(1, kParallelGrain / (8 * std::max<int64_t>(1, d.w))),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t r = begin; r < end; ++r) {
                     const int64_t pl = r / d.h, i = r % d.h;
                     const T* plane = gp + pl * d.p * d.q;
                     for (int64_t j = 0; j < d.w; ++j) o[r * d.w + j] = resize_bilinear_adjoint_at(plane, d, i, j);
                   }
                 });
  });
}

}  // namespace odegan::kernels::cpu
