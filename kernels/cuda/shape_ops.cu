#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/shape_ops.h"

namespace odegan::kernels::cuda {
namespace {

template <class T>
__global__ void copy_block_kernel(const T* s, AxisView sv, int64_t sb, T* o, AxisView ov, int64_t ob, int64_t count) {
  const int64_t row = count * sv.inner;
  ODEGAN_GRID_STRIDE(i, sv.outer * row) {
    const int64_t r = i / row, j = i % row;
    o[(r * ov.axis + ob) * ov.inner + j] = s[(r * sv.axis + sb) * sv.inner + j];
  }
}

template <class T>
__global__ void transpose_kernel(const T* x, T* o, int64_t batch, int64_t m, int64_t k) {
  ODEGAN_GRID_STRIDE(i, batch * m * k) {
    const int64_t b = i / (m * k), rem = i % (m * k), r = rem / k, c = rem % k;
    o[b * m * k + c * m + r] = x[i];
  }
}

// Bad indices (reported by check_indices) give zeros rather than an out-of-bounds read.
template <class T>
__global__ void gather_kernel(const T* table, const int32_t* idx, T* out, int64_t n, int64_t d, int64_t v) {
  ODEGAN_GRID_STRIDE(i, n * d) {
    const int64_t r = idx[i / d];
    out[i] = (r >= 0 && r < v) ? table[r * d + i % d] : T(0);
  }
}

// Deterministic: each output element sums its matching rows in index order.
template <class T>
__global__ void scatter_add_kernel(const T* g, const int32_t* idx, T* out, int64_t n, int64_t v, int64_t d) {
  ODEGAN_GRID_STRIDE(i, v * d) {
    const int64_t row = i / d, col = i % d;
    T acc = T(0);
    for (int64_t k = 0; k < n; ++k)
      if (idx[k] == row) acc += g[k * d + col];
    out[i] = acc;
  }
}

template <class T>
__global__ void one_hot_kernel(const int32_t* idx, T* out, int64_t n, int64_t k) {
  ODEGAN_GRID_STRIDE(i, n) if (idx[i] >= 0 && idx[i] < k) out[i * k + idx[i]] = T(1);
}

__global__ void check_indices_kernel(const int32_t* idx, int64_t n, int64_t limit, const char* op,
                                     DeviceErrorRecord* rec) {
  ODEGAN_GRID_STRIDE(i, n) {
    const int32_t v = idx[i];
    if ((v < 0 || v >= limit) && atomicCAS(&rec->flag, 0, 1) == 0) {
      rec->op = op;
      rec->position = i;
      rec->value = v;
      rec->limit = limit;
    }
  }
}

// Element-size dispatch for pure data movement (any dtype).
template <class F>
void by_size(DType t, F&& f) {
  if (dtype_size(t) == 8)
    f(double{});
  else
    f(float{});
}

}  // namespace

void copy_axis_block(const Tensor& src, const AxisView& sv, int64_t src_begin, Tensor& out, const AxisView& ov,
                     int64_t out_begin, int64_t count) {
  const int64_t n = sv.outer * count * sv.inner;
  if (n == 0) return;
  DeviceScope scope(src);
  by_size(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    copy_block_kernel<T><<<grid_for(n), kThreads, 0, scope.stream()>>>(
        static_cast<const T*>(src.data_ptr()), sv, src_begin, static_cast<T*>(out.data_ptr()), ov, out_begin, count);
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

void transpose_last2(const Tensor& x, Tensor& out, int64_t batch, int64_t m, int64_t k) {
  const int64_t n = batch * m * k;
  if (n == 0) return;
  DeviceScope scope(x);
  by_size(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    transpose_kernel<T><<<grid_for(n), kThreads, 0, scope.stream()>>>(static_cast<const T*>(x.data_ptr()),
                                                                       static_cast<T*>(out.data_ptr()), batch, m, k);
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

void embedding_gather(const Tensor& table, const Tensor& indices, Tensor& out) {
  const int64_t n = indices.numel(), d = table.shape()[1];
  if (n * d == 0) return;
  DeviceScope scope(table);
  by_size(table.dtype(), [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<T><<<grid_for(n * d), kThreads, 0, scope.stream()>>>(static_cast<const T*>(table.data_ptr()),
                                                                        indices.data<int32_t>(),
                                                                        static_cast<T*>(out.data_ptr()), n, d,
                                                                        table.shape()[0]);
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

void embedding_scatter_add(const Tensor& g, const Tensor& indices, Tensor& out) {
  const int64_t n = indices.numel(), v = out.shape()[0], d = out.shape()[1];
  if (v * d == 0) return;
  DeviceScope scope(g);
  visit_float(g.dtype(), "embedding_scatter_add", [&](auto tag) {
    using T = decltype(tag);
    scatter_add_kernel<T><<<grid_for(v * d), kThreads, 0, scope.stream()>>>(g.data<T>(), indices.data<int32_t>(),
                                                                            out.data<T>(), n, v, d);
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

void one_hot(const Tensor& indices, Tensor& out) {
  const int64_t n = indices.numel();
  if (n == 0) return;
  DeviceScope scope(indices);
  visit_float(out.dtype(), "one_hot", [&](auto tag) {
    using T = decltype(tag);
    one_hot_kernel<T><<<grid_for(n), kThreads, 0, scope.stream()>>>(indices.data<int32_t>(), out.data<T>(), n,
                                                                     out.shape()[1]);
  });
  ODEGAN_CUDA_CHECK_LAUNCH();
}

void check_indices(const Tensor& indices, int64_t limit, const char* op) {
  const int64_t n = indices.numel();
  if (n == 0) return;
  DeviceScope scope(indices);
  check_indices_kernel<<<grid_for(n), kThreads, 0, scope.stream()>>>(indices.data<int32_t>(), n, limit, op,
                                                                     scope.ctx.device_errors());
  ODEGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace odegan::kernels::cuda
