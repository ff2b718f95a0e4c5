#include "kernels/cpu/shape_ops.h"

#include <cstring>

namespace odegan::kernels::cpu {

void copy_axis_block(const Tensor& src, const AxisView& sv, int64_t src_begin, Tensor& out, const AxisView& ov,
                     int64_t out_begin, int64_t count) {
  const size_t es = dtype_size(src.dtype());
  const char* s = static_cast<const char*>(src.data_ptr());
  char* o = static_cast<char*>(out.data_ptr());
  const size_t row = static_cast<size_t>(count * sv.inner) * es;
  for (int64_t r = 0; r < sv.outer; ++r)
    std::memcpy(o + ((r * ov.axis + out_begin) * ov.inner) * es, s + ((r * sv.axis + src_begin) * sv.inner) * es, row);
}

void transpose_last2(const Tensor& x, Tensor& out, int64_t batch, int64_t m, int64_t k) {
  visit_float(x.dtype(), "transpose_last2", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* o = out.data<T>();
    constexpr int64_t B = 32;  // tiles keep both sides in cache
    for (int64_t b = 0; b < batch; ++b) {
      const T* xb = xp + b * m * k;
      T* ob = o + b * m * k;
      for (int64_t i0 = 0; i0 < m; i0 += B)
        for (int64_t j0 = 0; j0 < k; j0 += B)
          for (int64_t i = i0; i < std::min(m, i0 + B); ++i)
            for (int64_t j = j0; j < std::min(k, j0 + B); ++j) ob[j * m + i] = xb[i * k + j];
    }
  });
}

void embedding_gather(const Tensor& table, const Tensor& indices, Tensor& out) {
  const int32_t* idx = indices.data<int32_t>();
  const int64_t n = indices.numel(), d = table.shape()[1];
  const size_t row = static_cast<size_t>(d) * dtype_size(table.dtype());
  const char* t = static_cast<const char*>(table.data_ptr());
  char* o = static_cast<char*>(out.data_ptr());
  for (int64_t i = 0; i < n; ++i) std::memcpy(o + i * row, t + idx[i] * row, row);
}

void embedding_scatter_add(const Tensor& g, const Tensor& indices, Tensor& out) {
  visit_float(g.dtype(), "embedding_scatter_add", [&](auto tag) {
    using T = decltype(tag);
    const int32_t* idx = indices.data<int32_t>();
    const int64_t n = indices.numel(), d = g.shape()[1];
    const T* gp = g.data<T>();
    T* o = out.data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) o[idx[i] * d + j] += gp[i * d + j];
  });
}

void one_hot(const Tensor& indices, Tensor& out) {
  visit_float(out.dtype(), "one_hot", [&](auto tag) {
    using T = decltype(tag);
    const int32_t* idx = indices.data<int32_t>();
    const int64_t k = out.shape()[1];
    T* o = out.data<T>();
    for (int64_t i = 0; i < indices.numel(); ++i) o[i * k + idx[i]] = T(1);
  });
}

}  // namespace odegan::kernels::cpu
