// Deterministic CUDA reductions (no atomics): each output is reduced by one block, or by
// several blocks writing partials that a second kernel combines in a fixed order.
// Accumulation is in double for both float32 and float64 inputs.
#include <cmath>

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.h"

namespace odegan::kernels::cuda {
namespace {

constexpr int kReduceThreads = 256;

template <int OP>
__device__ __forceinline__ void fold(double& acc, double v) {
  if (OP == int(Reduce::max)) {
    if (v > acc || isnan(v)) acc = isnan(acc) ? acc : v;
  } else if (OP == int(Reduce::sum_squares)) {
    acc += v * v;
  } else {
    acc += v;
  }
}

template <int OP>
__device__ __forceinline__ void combine(double& acc, double v) {
  if (OP == int(Reduce::max))
    fold<OP>(acc, v);
  else
    acc += v;
}

template <int OP>
__device__ __forceinline__ double initial() {
  return OP == int(Reduce::max) ? -INFINITY : 0.0;
}

// Offset of output o's first element and of reduced element r within it.
__device__ __forceinline__ int64_t kept_offset(const ReducePlan& p, int64_t o) {
  int64_t off = 0;
  for (int k = p.nkept - 1; k >= 0; --k) {
    int g = p.kept[k];
    off += (o % p.size[g]) * p.stride[g];
    o /= p.size[g];
  }
  return off;
}
__device__ __forceinline__ int64_t reduced_offset(const ReducePlan& p, int64_t r) {
  int64_t off = 0;
  for (int k = p.nred - 1; k >= 0; --k) {
    int g = p.red[k];
    off += (r % p.size[g]) * p.stride[g];
    r /= p.size[g];
  }
  return off;
}

template <int OP>
__device__ double block_reduce(double v) {
  __shared__ double sh[kReduceThreads];
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kReduceThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) combine<OP>(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  double r = sh[0];
  __syncthreads();
  return r;
}

// Grid: (splits, outputs). Block (s, o) reduces slice s of output o's elements into
// partial[o * splits + s].
template <int OP, class T>
__global__ void reduce_partial(const T* x, double* partial, ReducePlan p, int64_t splits) {
  for (int64_t o = blockIdx.y; o < p.outputs; o += gridDim.y) {
    const int64_t base = kept_offset(p, o);
    const int64_t chunk = (p.per_output + splits - 1) / splits;
    const int64_t lo = blockIdx.x * chunk, hi = min(p.per_output, lo + chunk);
    double acc = initial<OP>();
    for (int64_t r = lo + threadIdx.x; r < hi; r += blockDim.x) fold<OP>(acc, (double)x[base + reduced_offset(p, r)]);
    double total = block_reduce<OP>(acc);
    if (threadIdx.x == 0) partial[o * splits + blockIdx.x] = total;
  }
}

template <int OP, class T>
__global__ void reduce_finish(const double* partial, T* out, int64_t outputs, int64_t splits, double scale) {
  ODEGAN_GRID_STRIDE(o, outputs) {
    double acc = initial<OP>();
    for (int64_t s = 0; s < splits; ++s) combine<OP>(acc, partial[o * splits + s]);
    out[o] = (T)(acc * scale);
  }
}

template <class T>
__global__ void fill_value(T* out, int64_t n, T v) {
  ODEGAN_GRID_STRIDE(i, n) out[i] = v;
}

template <int OP, class T>
void run(const Tensor& x, Tensor& out, const ReducePlan& p, cudaStream_t st) {
  T* o = out.data<T>();
  if (p.per_output == 0) {
    fill_value<T><<<grid_for(p.outputs), kThreads, 0, st>>>(o, p.outputs, OP == int(Reduce::mean) ? (T)NAN : T(0));
    ODEGAN_CUDA_CHECK_LAUNCH();
    return;
  }
  // Enough blocks to fill the GPU: split each output's elements when there are few outputs.
  const int64_t target_blocks = 1024;
  int64_t splits = 1;
  if (p.outputs < target_blocks) {
    splits = std::min<int64_t>((target_blocks + p.outputs - 1) / p.outputs,
                               (p.per_output + 4 * kReduceThreads - 1) / (4 * kReduceThreads));
    splits = std::max<int64_t>(splits, 1);
  }
  const unsigned gy = static_cast<unsigned>(std::min<int64_t>(p.outputs, 65535));
  Tensor partial = Tensor::empty({p.outputs * splits}, DType::f64, x.device());
  reduce_partial<OP, T><<<dim3(static_cast<unsigned>(splits), gy), kReduceThreads, 0, st>>>(
      x.data<T>(), partial.data<double>(), p, splits);
  ODEGAN_CUDA_CHECK_LAUNCH();
  const double scale = OP == int(Reduce::mean) ? 1.0 / static_cast<double>(p.per_output) : 1.0;
  reduce_finish<OP, T><<<grid_for(p.outputs), kThreads, 0, st>>>(partial.data<double>(), o, p.outputs, splits, scale);
  ODEGAN_CUDA_CHECK_LAUNCH();
}

template <class T>
__global__ void broadcast_kernel(const T* x, T* out, BroadcastPlan p) {
  ODEGAN_GRID_STRIDE(i, p.numel) {
    int64_t rem = i, xo = 0;
    for (int d = p.ndim - 1; d >= 0; --d) {
      xo += (rem % p.dims[d]) * p.xs[d];
      rem /= p.dims[d];
    }
    out[i] = x[xo];
  }
}

template <class T>
__global__ void finite_kernel(const T* x, int64_t n, int* bad) {
  ODEGAN_GRID_STRIDE(i, n) {
    if (!isfinite(x[i])) *bad = 1;  // any writer sets the same value: no race on the result
  }
}

}  // namespace

void reduce(Reduce op, const Tensor& x, Tensor& out, const ReducePlan& plan) {
  DeviceScope scope(x);
  visit_float(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case Reduce::sum: run<int(Reduce::sum), T>(x, out, plan, scope.stream()); break;
      case Reduce::mean: run<int(Reduce::mean), T>(x, out, plan, scope.stream()); break;
      case Reduce::max: run<int(Reduce::max), T>(x, out, plan, scope.stream()); break;
      case Reduce::sum_squares: run<int(Reduce::sum_squares), T>(x, out, plan, scope.stream()); break;
    }
  });
}

void broadcast_copy(const Tensor& x, Tensor& out, const BroadcastPlan& plan) {
  if (plan.numel == 0) return;
  DeviceScope scope(x);
  visit_float(x.dtype(), "broadcast_to", [&](auto tag) {
    using T = decltype(tag);
    broadcast_kernel<T><<<grid_for(plan.numel), kThreads, 0, scope.stream()>>>(x.data<T>(), out.data<T>(), plan);
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

void all_finite(const Tensor& x, bool& ok) {
  DeviceScope scope(x);
  Tensor flag = Tensor::zeros({1}, DType::i32, x.device());
  visit_float(x.dtype(), "all_finite", [&](auto tag) {
    using T = decltype(tag);
    finite_kernel<T><<<grid_for(x.numel()), kThreads, 0, scope.stream()>>>(x.data<T>(), x.numel(),
                                                                           flag.data<int32_t>());
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
  ok = flag.to_vector<int32_t>()[0] == 0;
}

}  // namespace odegan::kernels::cuda
