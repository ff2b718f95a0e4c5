#include "kernels/cpu/conv.h"

#include <vector>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/parallel.h"

namespace odegan::kernels::cpu {
namespace {

// Geometry of one image: x (C, H, W), w (K, C, R, S), y (K, P, Q).
struct Dims {
  int64_t n, c, h, w, k, r, s, p, q;
  int64_t crs() const { return c * r * s; }
  int64_t pq() const { return p * q; }
};

Dims dims(const Shape& x, const Shape& w, const Shape& y) {
  return {x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3]};
}

// col[(c, i, j), (u, v)] = x[c, u*stride - pad + i*dil, v*stride - pad + j*dil] (0 outside).
template <class T>
void im2col(const T* x, const Dims& d, const Conv2dGeometry& g, T* col) {
  for (int64_t c = 0; c < d.c; ++c)
    for (int64_t i = 0; i < d.r; ++i)
      for (int64_t j = 0; j < d.s; ++j) {
        T* row = col + ((c * d.r + i) * d.s + j) * d.pq();
        for (int64_t u = 0; u < d.p; ++u) {
          const int64_t hh = u * g.stride_h - g.pad_h + i * g.dilation_h;
          T* out = row + u * d.q;
          if (hh < 0 || hh >= d.h) {
            for (int64_t v = 0; v < d.q; ++v) out[v] = T(0);
            continue;
          }
          const T* xr = x + (c * d.h + hh) * d.w;
          for (int64_t v = 0; v < d.q; ++v) {
            const int64_t ww = v * g.stride_w - g.pad_w + j * g.dilation_w;
            out[v] = (ww >= 0 && ww < d.w) ? xr[ww] : T(0);
          }
        }
      }
}

// The adjoint of im2col: x += scatter(col).
template <class T>
void col2im(const T* col, const Dims& d, const Conv2dGeometry& g, T* x) {
  for (int64_t c = 0; c < d.c; ++c)
    for (int64_t i = 0; i < d.r; ++i)
      for (int64_t j = 0; j < d.s; ++j) {
        const T* row = col + ((c * d.r + i) * d.s + j) * d.pq();
        for (int64_t u = 0; u < d.p; ++u) {
          const int64_t hh = u * g.stride_h - g.pad_h + i * g.dilation_h;
          if (hh < 0 || hh >= d.h) continue;
          T* xr = x + (c * d.h + hh) * d.w;
          const T* in = row + u * d.q;
          for (int64_t v = 0; v < d.q; ++v) {
            const int64_t ww = v * g.stride_w - g.pad_w + j * g.dilation_w;
            if (ww >= 0 && ww < d.w) xr[ww] += in[v];
          }
        }
      }
}

}  // namespace

// Images are independent: spread them over threads (each with its own column buffer);
// the gemm inside then runs on its thread alone.
bool parallel_images(const Dims& d) { return d.n > 1 && d.n * d.k * d.crs() * d.pq() >= (int64_t(1) << 22); }

void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dGeometry& g) {
  const Dims d = dims(x.shape(), w.shape(), y.shape());
  visit_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    parallel_for(d.n, parallel_images(d) ? 1 : d.n + 1, [&](int64_t lo, int64_t hi) {
      std::vector<T> col(static_cast<size_t>(d.crs() * d.pq()));
      for (int64_t n = lo; n < hi; ++n) {
        im2col(x.data<T>() + n * d.c * d.h * d.w, d, g, col.data());
        // y_n (K, PQ) = W (K, CRS) . col (CRS, PQ)
        gemm_raw<T>(false, false, d.k, d.pq(), d.crs(), T(1), w.data<T>(), d.crs(), col.data(), d.pq(), T(0),
                    y.data<T>() + n * d.k * d.pq(), d.pq());
      }
    });
  });
}

void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dGeometry& g) {
  const Dims d = dims(gx.shape(), w.shape(), gy.shape());
  visit_float(gy.dtype(), "conv2d_backward_data", [&](auto tag) {
    using T = decltype(tag);
    T* out = gx.data<T>();
    for (int64_t i = 0; i < gx.numel(); ++i) out[i] = T(0);
    parallel_for(d.n, parallel_images(d) ? 1 : d.n + 1, [&](int64_t lo, int64_t hi) {
      std::vector<T> col(static_cast<size_t>(d.crs() * d.pq()));
      for (int64_t n = lo; n < hi; ++n) {
        // col (CRS, PQ) = W^T (CRS, K) . gy_n (K, PQ)
        gemm_raw<T>(true, false, d.crs(), d.pq(), d.k, T(1), w.data<T>(), d.crs(), gy.data<T>() + n * d.k * d.pq(),
                    d.pq(), T(0), col.data(), d.pq());
        col2im(col.data(), d, g, out + n * d.c * d.h * d.w);
      }
    });
  });
}

void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& gw, const Conv2dGeometry& g) {
  const Dims d = dims(x.shape(), gw.shape(), gy.shape());
  visit_float(x.dtype(), "conv2d_backward_filter", [&](auto tag) {
    using T = decltype(tag);
    // Fixed chunks of images, each summed into its own partial filter gradient, then the
    // partials in order: the same result for any number of threads.
    constexpr int64_t kChunk = 8;
    const int64_t chunks = (d.n + kChunk - 1) / kChunk, wsize = d.k * d.crs();
    std::vector<T> partial(static_cast<size_t>(std::max<int64_t>(chunks - 1, 0) * wsize));
    parallel_for(chunks, parallel_images(d) ? 1 : chunks + 1, [&](int64_t lo, int64_t hi) {
      std::vector<T> col(static_cast<size_t>(d.crs() * d.pq()));
      for (int64_t ch = lo; ch < hi; ++ch) {
        T* dst = ch == 0 ? gw.data<T>() : partial.data() + (ch - 1) * wsize;
        for (int64_t n = ch * kChunk; n < std::min(d.n, (ch + 1) * kChunk); ++n) {
          im2col(x.data<T>() + n * d.c * d.h * d.w, d, g, col.data());
          // gW (K, CRS) += gy_n (K, PQ) . col^T (PQ, CRS)
          gemm_raw<T>(false, true, d.k, d.crs(), d.pq(), T(1), gy.data<T>() + n * d.k * d.pq(), d.pq(), col.data(),
                      d.pq(), n == ch * kChunk ? T(0) : T(1), dst, d.crs());
        }
      }
    });
    T* out = gw.data<T>();
    for (int64_t ch = 1; ch < chunks; ++ch)
      for (int64_t i = 0; i < wsize; ++i) out[i] += partial[static_cast<size_t>((ch - 1) * wsize + i)];
    if (d.n == 0) gw.zero_();
  });
}

}  // namespace odegan::kernels::cpu
