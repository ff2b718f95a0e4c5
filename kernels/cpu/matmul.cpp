// A packed, register-blocked gemm in the GotoBLAS style: op(B) is packed into panels of
// NR columns, op(A) into panels of MR rows, and an MR x NR block of C stays in registers
// for a whole K block. The micro-kernel is plain C++ that GCC vectorises (AVX2/FMA when
// this file is built with -mavx2 -mfma).
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace odegan::kernels::cpu {
namespace {

template <class T>
struct Blocking;
template <>
struct Blocking<float> {
  static constexpr int MR = 6, NR = 16;
};
template <>
struct Blocking<double> {
  static constexpr int MR = 6, NR = 8;
};
constexpr int64_t KC = 256, MC = 96, NC = 1024;
// Products smaller than this (multiply-adds) stay on the calling thread: waking OpenMP
// workers costs microseconds, and idle workers spin, which slows everything else on a
// busy machine (small models run faster single-threaded).
constexpr int64_t kThreadedWork = int64_t(1) << 22;

// A per-thread buffer of at least n elements, kept for the next call (contents undefined).
template <class T, int Slot>
T* scratch(size_t n) {
  thread_local std::unique_ptr<T[]> buf;
  thread_local size_t size = 0;
  if (n > size) {
    buf.reset(new T[n]);
    size = n;
  }
  return buf.get();
}

// Element (i, k) of op(A) and (k, j) of op(B).
template <class T>
inline T at_a(const T* a, int64_t lda, bool t, int64_t i, int64_t k) {
  return t ? a[k * lda + i] : a[i * lda + k];
}

// Packs rows [i0, i0 + mc) x cols [k0, k0 + kc) of op(A) into MR-row panels, k-major
// within a panel, zero-padding the last panel.
template <class T>
void pack_a(const T* a, int64_t lda, bool t, int64_t i0, int64_t mc, int64_t k0, int64_t kc, T* out) {
  constexpr int MR = Blocking<T>::MR;
  for (int64_t p = 0; p < mc; p += MR) {
    const int rows = static_cast<int>(std::min<int64_t>(MR, mc - p));
    for (int64_t k = 0; k < kc; ++k) {
      for (int r = 0; r < rows; ++r) out[k * MR + r] = at_a(a, lda, t, i0 + p + r, k0 + k);
      for (int r = rows; r < MR; ++r) out[k * MR + r] = T(0);
    }
    out += kc * MR;
  }
}

// Packs rows [k0, k0 + kc) x cols [j0, j0 + nc) of op(B) into NR-column panels.
template <class T>
void pack_b(const T* b, int64_t ldb, bool t, int64_t k0, int64_t kc, int64_t j0, int64_t nc, T* out) {
  constexpr int NR = Blocking<T>::NR;
  for (int64_t p = 0; p < nc; p += NR) {
    const int cols = static_cast<int>(std::min<int64_t>(NR, nc - p));
    for (int64_t k = 0; k < kc; ++k) {
      T* o = out + k * NR;
      if (!t && cols == NR) {
        std::memcpy(o, b + (k0 + k) * ldb + j0 + p, sizeof(T) * NR);
        continue;
      }
      for (int c = 0; c < cols; ++c) o[c] = t ? b[(j0 + p + c) * ldb + k0 + k] : b[(k0 + k) * ldb + j0 + p + c];
      for (int c = cols; c < NR; ++c) o[c] = T(0);
    }
    out += kc * NR;
  }
}

// SIMD vectors of 8 floats / 4 doubles (GCC vector extensions: AVX2 registers when the
// file is built with -mavx2, pairs of SSE registers otherwise).
typedef float vf8 __attribute__((vector_size(32)));
typedef double vd4 __attribute__((vector_size(32)));
template <class T>
struct Simd;
template <>
struct Simd<float> {
  using V = vf8;
  static constexpr int W = 8;
};
template <>
struct Simd<double> {
  using V = vd4;
  static constexpr int W = 4;
};

// acc = A_block (MR x kc, element (i, k) at ap[i * rs + k * cs]) . B_panel (kc x NR),
// held in MR x (NR / W) vector registers for the whole K block; then
// C block = alpha acc + beta C. A is read in place (both layouts stream well: rows of A
// or MR consecutive elements of a column), so only B is packed.
template <class T>
void micro_kernel(int64_t kc, const T* __restrict ap, int64_t rs, int64_t cs, const T* __restrict bp, T* c,
                  int64_t ldc, int rows, int cols, T alpha, T beta) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR, W = Simd<T>::W, NV = NR / W;
  using V = typename Simd<T>::V;
  V acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V{} ;
  for (int64_t k = 0; k < kc; ++k) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) std::memcpy(&b[v], bp + k * NR + v * W, sizeof(V));
    const T* a = ap + k * cs;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const V ai = V{} + a[i * rs];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += ai * b[v];
    }
  }
  if (rows == MR && cols == NR && beta == T(0)) {  // the common case: whole vectors straight to C
    const V va = V{} + alpha;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const V r = acc[i][v] * va;
        std::memcpy(c + i * ldc + v * W, &r, sizeof(V));
      }
    return;
  }
  alignas(32) T out[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) std::memcpy(&out[i][v * W], &acc[i][v], sizeof(V));
  for (int i = 0; i < rows; ++i) {
    T* cr = c + i * ldc;
    if (beta == T(0)) {
      for (int j = 0; j < cols; ++j) cr[j] = alpha * out[i][j];
    } else {
      for (int j = 0; j < cols; ++j) cr[j] = alpha * out[i][j] + beta * cr[j];
    }
  }
}

// Few output columns (n < 8, e.g. a discriminator's single logit): packing into 16-wide
// panels would waste most of the work, so compute dot products along k directly.
template <class T>
void gemm_narrow(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                 int64_t ldb, T beta, T* c, int64_t ldc) {
  // op(B)^T, n rows of length k, contiguous.
  T* bt = scratch<T, 2>(static_cast<size_t>(n * k));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t kk = 0; kk < k; ++kk) bt[j * k + kk] = tb ? b[j * ldb + kk] : b[kk * ldb + j];
  auto store = [&](int64_t i, int64_t j, T v) {
    T& dst = c[i * ldc + j];
    dst = beta == T(0) ? alpha * v : alpha * v + beta * dst;
  };
  if (!ta) {
    using V = typename Simd<T>::V;
    constexpr int W = Simd<T>::W;
    const int64_t kv = k / W * W;
    for (int64_t i = 0; i < m; ++i) {
      const T* ar = a + i * lda;
      for (int64_t j = 0; j < n; ++j) {
        const T* br = bt + j * k;
        V acc = V{};  // explicit lanes: the compiler may not reorder a float sum itself
        for (int64_t kk = 0; kk < kv; kk += W) {
          V x, y;
          std::memcpy(&x, ar + kk, sizeof(V));
          std::memcpy(&y, br + kk, sizeof(V));
          acc += x * y;
        }
        T s = T(0);
        for (int l = 0; l < W; ++l) s += acc[l];
        for (int64_t kk = kv; kk < k; ++kk) s += ar[kk] * br[kk];
        store(i, j, s);
      }
    }
    return;
  }
  // op(A) = A^T: row k of A holds column k of op(A); accumulate over k, vectorised over i.
  T* acc = scratch<T, 3>(static_cast<size_t>(m * n));
  std::fill(acc, acc + m * n, T(0));
  for (int64_t kk = 0; kk < k; ++kk) {
    const T* ak = a + kk * lda;
    for (int64_t j = 0; j < n; ++j) {
      const T bv = bt[j * k + kk];
      T* accj = acc + j * m;
      for (int64_t i = 0; i < m; ++i) accj[i] += ak[i] * bv;
    }
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) store(i, j, acc[j * m + i]);
}

}  // namespace

// One tile task: C rows of row-block `mb` (MC rows) and columns of column-block `nb`
// (NC columns), over all of K. Each task packs its own B block into a per-thread buffer.
template <class T>
void gemm_tile(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
               int64_t ldb, T beta, T* c, int64_t ldc, int64_t mb, int64_t nb) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  const int64_t j0 = nb * NC, nc = std::min(NC, n - j0);
  const int64_t i0 = mb * MC, mc = std::min(MC, m - i0);
  // Packing buffers are per thread and reused across calls (no allocation, no zeroing).
  T* bpack = scratch<T, 0>(static_cast<size_t>(KC * ((NC + NR - 1) / NR * NR)));
  T* edge = scratch<T, 1>(static_cast<size_t>(KC * MR));
  // Element (i, k) of op(A) is at a[i * rs + k * cs].
  const int64_t rs = ta ? 1 : lda, cs = ta ? lda : 1;
  const bool pack_blocks = nc > 4 * NR;
  for (int64_t k0 = 0; k0 < k; k0 += KC) {
    const int64_t kc = std::min(KC, k - k0);
    const T beta_here = k0 == 0 ? beta : T(1);
    pack_b(b, ldb, tb, k0, kc, j0, nc, bpack);
    for (int64_t ip = 0; ip < mc; ip += MR) {
      const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ip));
      const T* ablk = a + (i0 + ip) * rs + k0 * cs;
      int64_t brs = rs, bcs = cs;
      // Pack the block when it is reused across many B panels (large n) or when it is
      // the last, partial one (a zero-padded copy keeps the kernel in bounds).
      if (rows < MR || pack_blocks) {
        pack_a(a, lda, ta, i0 + ip, rows, k0, kc, edge);
        ablk = edge;
        brs = 1;
        bcs = MR;
      }
      for (int64_t jp = 0; jp < nc; jp += NR) {
        const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jp));
        micro_kernel(kc, ablk, brs, bcs, bpack + (jp / NR) * kc * NR, c + (i0 + ip) * ldc + j0 + jp, ldc, rows, cols,
                     alpha, beta_here);
      }
    }
  }
}

template <class T>
void gemm_raw(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
              int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  if (n < 8) return gemm_narrow(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  // Independent (row block, column block) tiles; threads take tiles when there is
  // enough work to pay for waking them. Each tile's result does not depend on which
  // thread computes it, so the output is the same for any number of threads.
  const int64_t mblocks = (m + MC - 1) / MC, nblocks = (n + NC - 1) / NC, tiles = mblocks * nblocks;
  const bool threads = tiles > 1 && m * n * k >= kThreadedWork;
  parallel_for(tiles, threads ? 1 : tiles + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t)
      gemm_tile(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, t % mblocks, t / mblocks);
  });
}

template void gemm_raw<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                              int64_t, float, float*, int64_t);
template void gemm_raw<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                               int64_t, double, double*, int64_t);

void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha, double beta,
          int64_t m, int64_t n, int64_t k) {
  visit_float(a.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    gemm_raw<T>(trans_a, trans_b, m, n, k, T(alpha), a.data<T>(), a.shape()[1], b.data<T>(), b.shape()[1], T(beta),
                c.data<T>(), n);
  });
}

}  // namespace odegan::kernels::cpu
