// The packed, register-blocked gemm body, included once per instruction set by
// matmul.cpp (AVX2, 32-byte vectors) and matmul_avx512.cpp (64-byte vectors) with
//   ODEGAN_GEMM_NS         the namespace the instantiation lives in,
//   ODEGAN_GEMM_VEC_BYTES  the SIMD vector width in bytes.
// GotoBLAS style: op(B) is packed into panels of NR columns, an MR x NR block of C stays
// in registers for a whole K block. Every element of C is accumulated over k in the same
// order, with the same K blocks (KC), whatever MR, NR and the vector width, so all
// instantiations give bitwise-identical results.
// No include guard on purpose: it is included once per ISA into different namespaces.
#include <algorithm>
#include <cstring>
#include <memory>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/parallel.h"

#ifndef ODEGAN_GEMM_NS
#error "define ODEGAN_GEMM_NS and ODEGAN_GEMM_VEC_BYTES before including gemm_tiled.inl"
#endif

namespace odegan::kernels::cpu::ODEGAN_GEMM_NS {
namespace {

constexpr int kVecBytes = ODEGAN_GEMM_VEC_BYTES;
// Register blocks: 12 (AVX2, 16 registers) or 24 (AVX-512, 32 registers) accumulators.
template <class T>
struct Blocking {
  static constexpr int W = kVecBytes / static_cast<int>(sizeof(T));
  static constexpr int MR = kVecBytes == 64 ? 12 : 6, NR = 2 * W;
};
// KC must be the same in every instantiation (it fixes the order of the additions).
constexpr int64_t KC = kGemmKBlock, MC = 96, NC = 1024;
// Products smaller than this (multiply-adds) stay on the calling thread: waking pool
// workers costs microseconds (small models run faster single-threaded).
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
    if (t) {
      // op(B) = B^T: column c of the panel is a contiguous run of row j0 + p + c of B.
      for (int c = 0; c < cols; ++c) {
        const T* src = b + (j0 + p + c) * ldb + k0;
        for (int64_t k = 0; k < kc; ++k) out[k * NR + c] = src[k];
      }
      for (int64_t k = 0; k < kc; ++k)
        for (int c = cols; c < NR; ++c) out[k * NR + c] = T(0);
      out += kc * NR;
      continue;
    }
    for (int64_t k = 0; k < kc; ++k) {
      T* o = out + k * NR;
      if (cols == NR) {
        std::memcpy(o, b + (k0 + k) * ldb + j0 + p, sizeof(T) * NR);
        continue;
      }
      for (int c = 0; c < cols; ++c) o[c] = b[(k0 + k) * ldb + j0 + p + c];
      for (int c = cols; c < NR; ++c) o[c] = T(0);
    }
    out += kc * NR;
  }
}

// SIMD vectors of W elements (GCC vector extensions).
template <class T>
struct Simd {
  static constexpr int W = Blocking<T>::W;
  typedef T V __attribute__((vector_size(kVecBytes)));
};

// x in every lane: one broadcast load. (Written as V{} + x, the compiler must first add
// 0 + x, which is not x when x = -0, then broadcast: two extra instructions for every
// element of A in the inner loop. x - 0 is x for every x, so it folds away.)
template <class T>
inline typename Simd<T>::V splat(T x) {
  return x - typename Simd<T>::V{};
}

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
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V{} ;
  for (int64_t k = 0; k < kc; ++k) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) std::memcpy(&b[v], bp + k * NR + v * W, sizeof(V));
    const T* a = ap + k * cs;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai = splat(a[i * rs]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += ai * b[v];
    }
  }
  if (rows == MR && cols == NR && beta == T(0)) {  // the common case: whole vectors straight to C
    const V va = splat(alpha);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const V r = acc[i][v] * va;
        std::memcpy(c + i * ldc + v * W, &r, sizeof(V));
      }
    return;
  }
  if (rows == MR && cols == NR && alpha == T(1) && beta == T(1)) {  // a later K block: C += acc
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        V r;
        std::memcpy(&r, c + i * ldc + v * W, sizeof(V));
        r += acc[i][v];
        std::memcpy(c + i * ldc + v * W, &r, sizeof(V));
      }
    return;
  }
  alignas(64) T out[MR][NR];
#pragma GCC unroll 16
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

}  // namespace

// One task: rows [r0, r1) and columns [j0, j0 + nc) of C, over all of K. Each K block of
// B is packed once into a per-thread buffer and used for every row of the task.
template <class T>
void gemm_task(bool ta, bool tb, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c,
               int64_t ldc, int64_t r0, int64_t r1, int64_t j0, int64_t nc) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
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
    for (int64_t i0 = r0; i0 < r1; i0 += MC) {
      const int64_t mc = std::min(MC, r1 - i0);
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
          micro_kernel(kc, ablk, brs, bcs, bpack + (jp / NR) * kc * NR, c + (i0 + ip) * ldc + j0 + jp, ldc, rows,
                       cols, alpha, beta_here);
        }
      }
    }
  }
}

// C = alpha op(A) op(B) + beta C with n >= 8, over independent tasks (a block of at most
// NC columns and a run of rows); threads take tasks when there is enough work to pay
// for waking them. Column blocks are of equal width (a multiple of NR), and with fewer
// column blocks than threads the rows are split into equal runs (multiples of MR), so
// the threads get equal shares. Every element of C is computed the same way whichever
// task holds it, so the output is the same for any number of threads.
template <class T>
void tiled_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                int64_t ldb, T beta, T* c, int64_t ldc) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  auto round_up = [](int64_t x, int64_t to) { return (x + to - 1) / to * to; };
  int64_t nblocks = (n + NC - 1) / NC;
  const int64_t width = std::min(NC, round_up((n + nblocks - 1) / nblocks, NR));
  nblocks = (n + width - 1) / width;
  const bool threads = m * n * k >= kThreadedWork && (nblocks > 1 || m > MR);
  const int64_t workers = threads ? num_threads() : 1;
  int64_t runs = std::min((m + MR - 1) / MR, std::max<int64_t>(1, (workers + nblocks - 1) / nblocks));
  const int64_t rows = round_up((m + runs - 1) / runs, MR);
  runs = (m + rows - 1) / rows;
  const int64_t tasks = nblocks * runs;
  parallel_for(tasks, threads ? 1 : tasks + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t r0 = (t % runs) * rows, j0 = (t / runs) * width;
      gemm_task(ta, tb, k, alpha, a, lda, b, ldb, beta, c, ldc, r0, std::min(m, r0 + rows), j0,
                std::min(width, n - j0));
    }
  });
}

template void tiled_gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                int64_t, float, float*, int64_t);
template void tiled_gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                 const double*, int64_t, double, double*, int64_t);

}  // namespace odegan::kernels::cpu::ODEGAN_GEMM_NS
