#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/elementwise_ops.h"

namespace odegan::kernels::cuda {
namespace {

// The op is uniform across the grid, so the switch costs a predictable branch per element.
template <class T>
__device__ __forceinline__ T apply_unary(Unary op, T x, T a, T b) {
  switch (op) {
#define F(name, formula) \
  case Unary::name: return ops::unary<Unary::name, T>(x, a, b);
    ODEGAN_UNARY_OPS(F)
#undef F
  }
  return T(0);
}

template <class T>
__device__ __forceinline__ T apply_binary(Binary op, T x, T y, T a) {
  switch (op) {
#define F(name, formula) \
  case Binary::name: return ops::binary<Binary::name, T>(x, y, a);
    ODEGAN_BINARY_OPS(F)
#undef F
  }
  return T(0);
}

template <class T>
__global__ void unary_kernel(Unary op, const T* x, T* out, int64_t n, T a, T b) {
  ODEGAN_GRID_STRIDE(i, n) out[i] = apply_unary(op, x[i], a, b);
}

template <class T>
__global__ void binary_kernel(Binary op, const T* x, const T* y, T* out, T a, BroadcastPlan p) {
  ODEGAN_GRID_STRIDE(i, p.numel) {
    T xv, yv;
    if (p.kind == BroadcastPlan::same) {
      xv = x[i];
      yv = y[i];
    } else if (p.kind == BroadcastPlan::y_scalar) {
      xv = x[i];
      yv = y[0];
    } else if (p.kind == BroadcastPlan::x_scalar) {
      xv = x[0];
      yv = y[i];
    } else {
      int64_t rem = i, xo = 0, yo = 0;
      for (int d = p.ndim - 1; d >= 0; --d) {
        int64_t idx = rem % p.dims[d];
        rem /= p.dims[d];
        xo += idx * p.xs[d];
        yo += idx * p.ys[d];
      }
      xv = x[xo];
      yv = y[yo];
    }
    out[i] = apply_binary(op, xv, yv, a);
  }
}

struct LincombArgs {
  int nt;
  double c0;
  double c[4];
  const void* k[4];
};

template <class T>
__global__ void lincomb_kernel(T* out, const T* x0, LincombArgs args, int64_t n) {
  const T c0 = static_cast<T>(args.c0);
  ODEGAN_GRID_STRIDE(i, n) {
    T acc = c0 * x0[i];
    for (int j = 0; j < args.nt; ++j) acc += static_cast<T>(args.c[j]) * static_cast<const T*>(args.k[j])[i];
    out[i] = acc;
  }
}

}  // namespace

void unary(Unary op, const Tensor& x, Tensor& out, double a, double b) {
  if (x.numel() == 0) return;
  DeviceScope scope(x);
  visit_float(x.dtype(), unary_name(op), [&](auto tag) {
    using scalar_t = decltype(tag);
    unary_kernel<scalar_t><<<grid_for(x.numel()), kThreads, 0, scope.stream()>>>(
        op, x.data<scalar_t>(), out.data<scalar_t>(), x.numel(), static_cast<scalar_t>(a), static_cast<scalar_t>(b));
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

void binary(Binary op, const Tensor& x, const Tensor& y, Tensor& out, double a, const BroadcastPlan& plan) {
  if (plan.numel == 0) return;
  DeviceScope scope(x);
  visit_float(x.dtype(), binary_name(op), [&](auto tag) {
    using scalar_t = decltype(tag);
    binary_kernel<scalar_t><<<grid_for(plan.numel), kThreads, 0, scope.stream()>>>(
        op, x.data<scalar_t>(), y.data<scalar_t>(), out.data<scalar_t>(), static_cast<scalar_t>(a), plan);
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

void lincomb(Tensor& out, double c0, const Tensor& x0, const std::vector<std::pair<double, Tensor>>& terms) {
  if (out.numel() == 0) return;
  DeviceScope scope(out);
  LincombArgs args{};
  args.nt = static_cast<int>(terms.size());
  args.c0 = c0;
  for (int i = 0; i < args.nt; ++i) {
    args.c[i] = terms[i].first;
    args.k[i] = terms[i].second.data_ptr();
  }
  visit_float(out.dtype(), "lincomb", [&](auto tag) {
    using scalar_t = decltype(tag);
    lincomb_kernel<scalar_t><<<grid_for(out.numel()), kThreads, 0, scope.stream()>>>(
        out.data<scalar_t>(), x0.data<scalar_t>(), args, out.numel());
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace odegan::kernels::cuda
