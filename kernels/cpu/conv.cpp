#include "kernels/cpu/conv.h"

#include <algorithm>
#include <cstring>
#include <memory>

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

// A per-thread buffer of at least n elements, kept for the next call (contents undefined):
// no allocation and no zero-filling per convolution.
template <class T, int Slot>
T* scratch(int64_t n) {
  thread_local std::unique_ptr<T[]> buf;
  thread_local int64_t size = 0;
  if (n > size) {
    buf.reset(new T[static_cast<size_t>(n)]);
    size = n;
  }
  return buf.get();
}

int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

// Output columns [lo, hi) of a kernel column j read inside the input row:
// 0 <= v*stride - pad + j*dil < width.
void valid_range(int64_t j, int64_t width, int64_t q, int stride, int pad, int dil, int64_t& lo, int64_t& hi) {
  lo = std::min<int64_t>(q, ceil_div(pad - j * dil, stride));
  const int64_t last = width - 1 + pad - j * dil;  // v*stride <= last
  hi = last < 0 ? 0 : std::min<int64_t>(q, last / stride + 1);
  hi = std::max(hi, lo);
}

// out[v] = x[v * stride] for v in [lo, hi); strides 1 and 2 (every convolution of the
// paper's networks) as constants, which the compiler vectorises.
template <class T>
inline void strided_copy(T* out, const T* x, int64_t lo, int64_t hi, int64_t stride) {
  if (stride == 1) {
    for (int64_t v = lo; v < hi; ++v) out[v] = x[v];
  } else if (stride == 2) {
    for (int64_t v = lo; v < hi; ++v) out[v] = x[2 * v];
  } else {
    for (int64_t v = lo; v < hi; ++v) out[v] = x[v * stride];
  }
}

// x[v * stride] += in[v] for v in [lo, hi), likewise.
template <class T>
inline void strided_add(T* x, const T* in, int64_t lo, int64_t hi, int64_t stride) {
  if (stride == 1) {
    for (int64_t v = lo; v < hi; ++v) x[v] += in[v];
  } else if (stride == 2) {
    for (int64_t v = lo; v < hi; ++v) x[2 * v] += in[v];
  } else {
    for (int64_t v = lo; v < hi; ++v) x[v * stride] += in[v];
  }
}

// Rows [r0, r1) of col, where col[(c, i, j), (u, v)] = x[c, u*stride - pad + i*dil,
// v*stride - pad + j*dil] (0 outside); row r at col + (r - r0) * ld (several images side
// by side in one column buffer).
template <class T>
void im2col(const T* x, const Dims& d, const Conv2dGeometry& g, T* col, int64_t ld, int64_t r0, int64_t r1) {
  int64_t c = r0 / (d.r * d.s), i = (r0 / d.s) % d.r, j = r0 % d.s;
  for (int64_t rr = r0; rr < r1; ++rr) {
    T* row = col + (rr - r0) * ld;
    int64_t lo, hi;
    valid_range(j, d.w, d.q, g.stride_w, g.pad_w, g.dilation_w, lo, hi);
    const int64_t off = j * g.dilation_w - g.pad_w;
    for (int64_t u = 0; u < d.p; ++u) {
      const int64_t hh = u * g.stride_h - g.pad_h + i * g.dilation_h;
      T* out = row + u * d.q;
      if (hh < 0 || hh >= d.h) {
        std::fill(out, out + d.q, T(0));
        continue;
      }
      const T* xr = x + (c * d.h + hh) * d.w + off;
      std::fill(out, out + lo, T(0));
      strided_copy(out, xr, lo, hi, g.stride_w);
      std::fill(out + hi, out + d.q, T(0));
    }
    if (++j == d.s) {
      j = 0;
      if (++i == d.r) i = 0, ++c;
    }
  }
}

// The adjoint of im2col for rows [r0, r1): x += scatter(col), in the order of a plain
// loop over (c, i, j, u, v), so calls over consecutive row ranges add in the same order
// as one call over all rows.
template <class T>
void col2im(const T* col, const Dims& d, const Conv2dGeometry& g, T* x, int64_t ld, int64_t r0, int64_t r1) {
  int64_t c = r0 / (d.r * d.s), i = (r0 / d.s) % d.r, j = r0 % d.s;
  for (int64_t rr = r0; rr < r1; ++rr) {
    const T* row = col + (rr - r0) * ld;
    int64_t lo, hi;
    valid_range(j, d.w, d.q, g.stride_w, g.pad_w, g.dilation_w, lo, hi);
    const int64_t off = j * g.dilation_w - g.pad_w;
    for (int64_t u = 0; u < d.p; ++u) {
      const int64_t hh = u * g.stride_h - g.pad_h + i * g.dilation_h;
      if (hh < 0 || hh >= d.h) continue;
      strided_add(x + (c * d.h + hh) * d.w + off, row + u * d.q, lo, hi, g.stride_w);
    }
    if (++j == d.s) {
      j = 0;
      if (++i == d.r) i = 0, ++c;
    }
  }
}

// Rows of the im2col matrix per slice: the matrix of a whole group is megabytes, so it is
// built, multiplied (and, for the backward-data, scattered back) a slice of rows at a
// time that stays in the core's cache. Slices are multiples of the gemm's k block, so a
// forward split along its k (CRS) sums in the same order as unsplit: same bits.
int64_t slice_rows(const Dims& d, int64_t ld) {
  constexpr int64_t kSliceFloats = int64_t(1) << 17;  // 512 KB of float
  const int64_t blocks = std::max<int64_t>(1, kSliceFloats / (kGemmKBlock * std::max<int64_t>(1, ld)));
  return std::min(d.crs(), blocks * kGemmKBlock);
}

// Row ranges [r0, r1) of the slices; a last slice narrower than 8 joins the one before
// (the gemm has another path for products with fewer than 8 columns).
// With no rows at all (no input channels) f(0, 0) still runs once: the forward's product
// over an empty k then writes its zeros.
template <class F>
void for_slices(const Dims& d, int64_t ld, F&& f) {
  if (d.crs() == 0) return f(int64_t(0), int64_t(0));
  const int64_t rows = slice_rows(d, ld);
  for (int64_t r0 = 0; r0 < d.crs();) {
    int64_t r1 = std::min(d.crs(), r0 + rows);
    if (d.crs() - r1 < 8) r1 = d.crs();
    f(r0, r1);
    r0 = r1;
  }
}

// Images per gemm. One image's output has only P*Q columns (16 for a 4x4 map), too few
// to fill the gemm's 32-wide register panels or to amortise its packing, so images are
// taken a group at a time, side by side: G*P*Q >= kMinColumns, while the group's whole
// im2col matrix (built a slice at a time, see slice_rows) stays under kMaxColumnFloats. Depends on the geometry only, never on
// the number of threads (results do not depend on it either).
int64_t group_size(const Dims& d) {
  constexpr int64_t kMinColumns = 512, kMaxColumnFloats = int64_t(1) << 21;
  int64_t g = (kMinColumns + d.pq() - 1) / d.pq();
  g = std::min(g, std::max<int64_t>(1, kMaxColumnFloats / std::max<int64_t>(1, d.crs() * d.pq())));
  return std::max<int64_t>(1, std::min(g, d.n));
}

// The filter gradient dW (K, CRS) = gy (K, m*PQ) . col^T (m*PQ, CRS) runs along m*PQ in
// both operands, so the gemm must pack one of them transposed, element by element. With
// few output channels (K <= 128) it is cheaper to compute dW^T = col . gy^T: the im2col
// matrix is then read in place (too few columns of the result for the gemm to pack it)
// and only the small gy is packed; the result is transposed afterwards. Each element is
// the same sum in the same order either way (products commute): same bits. Measured on
// the DCGAN's first layers: 1.2-1.6x faster filter gradients; not so with many channels.
bool transposed_filter_gradient(const Dims& d, int64_t ld) {
  return d.k >= 8 && d.k <= 128 && d.crs() > d.k && ld >= 8;
}

// m images' (K, PQ) maps laid side by side as one (K, m*PQ) matrix in `out`, and back.
template <class T>
const T* side_by_side(const T* maps, const Dims& d, int64_t m, T* out) {
  const int64_t ld = m * d.pq(), bytes = static_cast<int64_t>(sizeof(T)) * d.pq();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < d.k; ++k)
      std::memcpy(out + k * ld + i * d.pq(), maps + (i * d.k + k) * d.pq(), static_cast<size_t>(bytes));
  return out;
}
template <class T>
void one_per_image(const T* matrix, const Dims& d, int64_t m, T* maps) {
  const int64_t ld = m * d.pq(), bytes = static_cast<int64_t>(sizeof(T)) * d.pq();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < d.k; ++k)
      std::memcpy(maps + (i * d.k + k) * d.pq(), matrix + k * ld + i * d.pq(), static_cast<size_t>(bytes));
}

// Runs body(group) over the groups of images: in parallel over groups when there are
// enough of them to keep the threads busy, else one after the other, each gemm then
// spreading its own tiles over the threads.
template <class F>
void for_groups(int64_t groups, const Dims& d, F&& body) {
  const bool big = d.n * d.k * d.crs() * d.pq() >= (int64_t(1) << 22);
  const bool across = big && groups >= 2 && groups >= num_threads();
  parallel_for(groups, across ? 1 : groups + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t gi = lo; gi < hi; ++gi) body(gi);
  });
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dGeometry& g) {
  const Dims d = dims(x.shape(), w.shape(), y.shape());
  visit_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const int64_t gs = group_size(d), groups = (d.n + gs - 1) / gs;
    const int64_t xs = d.c * d.h * d.w, ys = d.k * d.pq();
    for_groups(groups, d, [&](int64_t gi) {
      const int64_t n0 = gi * gs, m = std::min(gs, d.n - n0), ld = m * d.pq();
      // out (K, m*PQ) = W (K, CRS) . col (CRS, m*PQ), a slice of CRS at a time (later
      // slices added: beta 1); one image straight into y.
      T* out = m == 1 ? y.data<T>() + n0 * ys : scratch<T, 1>(d.k * ld);
      T* col = scratch<T, 0>(std::min(d.crs(), slice_rows(d, ld) + 8) * ld);
      if (ld < 8) {  // the gemm's narrow path sums all of k at once: no slices
        col = scratch<T, 0>(d.crs() * ld);
        for (int64_t i = 0; i < m; ++i) im2col(x.data<T>() + (n0 + i) * xs, d, g, col + i * d.pq(), ld, 0, d.crs());
        gemm_raw<T>(false, false, d.k, ld, d.crs(), T(1), w.data<T>(), d.crs(), col, ld, T(0), out, ld);
      } else {
        for_slices(d, ld, [&](int64_t r0, int64_t r1) {
          for (int64_t i = 0; i < m; ++i) im2col(x.data<T>() + (n0 + i) * xs, d, g, col + i * d.pq(), ld, r0, r1);
          gemm_raw<T>(false, false, d.k, ld, r1 - r0, T(1), w.data<T>() + r0, d.crs(), col, ld, T(r0 == 0 ? 0 : 1), out,
                      ld);
        });
      }
      if (m > 1) one_per_image(out, d, m, y.data<T>() + n0 * ys);
    });
  });
}

void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dGeometry& g) {
  const Dims d = dims(gx.shape(), w.shape(), gy.shape());
  visit_float(gy.dtype(), "conv2d_backward_data", [&](auto tag) {
    using T = decltype(tag);
    const int64_t gs = group_size(d), groups = (d.n + gs - 1) / gs;
    const int64_t xs = d.c * d.h * d.w, ys = d.k * d.pq();
    for_groups(groups, d, [&](int64_t gi) {
      const int64_t n0 = gi * gs, m = std::min(gs, d.n - n0), ld = m * d.pq();
      // The group's gradients side by side: gyg (K, m*PQ).
      const T* gyg = gy.data<T>() + n0 * ys;
      if (m > 1) gyg = side_by_side(gyg, d, m, scratch<T, 1>(d.k * ld));
      for (int64_t i = 0; i < m; ++i) {
        T* out = gx.data<T>() + (n0 + i) * xs;
        std::fill(out, out + xs, T(0));
      }
      // col (CRS, m*PQ) = W^T (CRS, K) . gyg (K, m*PQ), a slice of rows at a time, each
      // scattered back into the images before the next.
      T* col = scratch<T, 0>(std::min(d.crs(), slice_rows(d, ld) + 8) * ld);
      for_slices(d, ld, [&](int64_t r0, int64_t r1) {
        gemm_raw<T>(true, false, r1 - r0, ld, d.k, T(1), w.data<T>() + r0, d.crs(), gyg, ld, T(0), col, ld);
        for (int64_t i = 0; i < m; ++i) col2im(col + i * d.pq(), d, g, gx.data<T>() + (n0 + i) * xs, ld, r0, r1);
      });
    });
  });
}

void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& gw, const Conv2dGeometry& g) {
  const Dims d = dims(x.shape(), gw.shape(), gy.shape());
  visit_float(x.dtype(), "conv2d_backward_filter", [&](auto tag) {
    using T = decltype(tag);
    if (d.n == 0) {
      gw.zero_();
      return;
    }
    // Each group sums into its own partial filter gradient (the first straight into gw),
    // then the partials are added in order: the same result for any number of threads.
    const int64_t gs = group_size(d), groups = (d.n + gs - 1) / gs;
    const int64_t xs = d.c * d.h * d.w, ys = d.k * d.pq(), wsize = d.k * d.crs();
    std::unique_ptr<T[]> partial(groups > 1 ? new T[static_cast<size_t>((groups - 1) * wsize)] : nullptr);
    for_groups(groups, d, [&](int64_t gi) {
      const int64_t n0 = gi * gs, m = std::min(gs, d.n - n0), ld = m * d.pq();
      const T* gyg = gy.data<T>() + n0 * ys;
      if (m > 1) gyg = side_by_side(gyg, d, m, scratch<T, 1>(d.k * ld));
      // gW (K, CRS) = gyg (K, m*PQ) . col^T (m*PQ, CRS), a slice of CRS (columns of gW) at
      // a time.
      T* dst = gi == 0 ? gw.data<T>() : partial.get() + (gi - 1) * wsize;
      T* col = scratch<T, 0>(std::min(d.crs(), slice_rows(d, ld) + 8) * ld);
      const bool transposed = transposed_filter_gradient(d, ld);
      T* gwt = transposed ? scratch<T, 2>(wsize) : nullptr;
      for_slices(d, ld, [&](int64_t r0, int64_t r1) {
        for (int64_t i = 0; i < m; ++i) im2col(x.data<T>() + (n0 + i) * xs, d, g, col + i * d.pq(), ld, r0, r1);
        if (transposed) {
          // gW^T (CRS, K) = col (CRS, m*PQ) . gyg^T (m*PQ, K), transposed into dst below.
          gemm_raw<T>(false, true, r1 - r0, d.k, ld, T(1), col, ld, gyg, ld, T(0), gwt + r0 * d.k, d.k);
        } else {
          gemm_raw<T>(false, true, d.k, r1 - r0, ld, T(1), gyg, ld, col, ld, T(0), dst + r0, d.crs());
        }
      });
      if (transposed)
        for (int64_t k = 0; k < d.k; ++k)
          for (int64_t j = 0; j < d.crs(); ++j) dst[k * d.crs() + j] = gwt[j * d.k + k];
    });
    T* out = gw.data<T>();
    for (int64_t gi = 1; gi < groups; ++gi) {
      const T* p = partial.get() + (gi - 1) * wsize;
      for (int64_t i = 0; i < wsize; ++i) out[i] += p[i];
    }
  });
}

}  // namespace odegan::kernels::cpu
