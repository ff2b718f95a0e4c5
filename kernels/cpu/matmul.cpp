// A packed, register-blocked gemm in the GotoBLAS style: op(B) is packed into panels of
// NR columns, op(A) into panels of MR rows, and an MR x NR block of C stays in registers
// for a whole K block. The micro-kernel is plain C++ that GCC vectorises (AVX2/FMA when
// this file is built with -mavx2 -mfma).
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstring>
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

// acc = A_panel (kc x MR) ^T . B_panel (kc x NR); then C block = alpha acc + beta C.
template <class T>
void micro_kernel(int64_t kc, const T* __restrict ap, const T* __restrict bp, T* c, int64_t ldc, int rows, int cols,
                  T alpha, T beta) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const T* a = ap + k * MR;
    const T* b = bp + k * NR;
    for (int i = 0; i < MR; ++i) {
      const T ai = a[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
  }
  for (int i = 0; i < rows; ++i) {
    T* cr = c + i * ldc;
    if (beta == T(0)) {
      for (int j = 0; j < cols; ++j) cr[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < cols; ++j) cr[j] = alpha * acc[i][j] + beta * cr[j];
    }
  }
}

}  // namespace

template <class T>
void gemm_raw(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
              int64_t ldb, T beta, T* c, int64_t ldc) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  const bool threads = m * n * k >= (int64_t(1) << 21);
  std::vector<T> bpack(static_cast<size_t>(KC * ((std::min(NC, n) + NR - 1) / NR * NR)));
  for (int64_t j0 = 0; j0 < n; j0 += NC) {
    const int64_t nc = std::min(NC, n - j0);
    for (int64_t k0 = 0; k0 < k; k0 += KC) {
      const int64_t kc = std::min(KC, k - k0);
      const T beta_here = k0 == 0 ? beta : T(1);
      pack_b(b, ldb, tb, k0, kc, j0, nc, bpack.data());
      const int64_t mblocks = (m + MC - 1) / MC;
      parallel_for(mblocks, threads ? 1 : mblocks + 1, [&](int64_t lo, int64_t hi) {
        std::vector<T> apack(static_cast<size_t>(KC * ((MC + MR - 1) / MR * MR)));
        for (int64_t blk = lo; blk < hi; ++blk) {
          const int64_t i0 = blk * MC, mc = std::min(MC, m - i0);
          pack_a(a, lda, ta, i0, mc, k0, kc, apack.data());
          for (int64_t jp = 0; jp < nc; jp += NR) {
            const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jp));
            const T* bp = bpack.data() + (jp / NR) * kc * NR;
            for (int64_t ip = 0; ip < mc; ip += MR) {
              const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ip));
              micro_kernel(kc, apack.data() + (ip / MR) * kc * MR, bp, c + (i0 + ip) * ldc + j0 + jp, ldc, rows,
                           cols, alpha, beta_here);
            }
          }
        }
      });
    }
  }
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
