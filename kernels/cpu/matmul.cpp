// CPU gemm: a packed, register-blocked kernel (gemm_tiled.inl) built for AVX2 and, where
// the compiler can, for AVX-512; the widest one the CPU runs is used. Both give the same
// bits (see gemm_tiled.inl), so results do not depend on the machine's instruction set.
// Products with fewer than 8 output columns take a dot-product path instead.
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/error.h"

#define ODEGAN_GEMM_NS avx2
#define ODEGAN_GEMM_VEC_BYTES 32
#include "kernels/cpu/gemm_tiled.inl"
#undef ODEGAN_GEMM_NS
#undef ODEGAN_GEMM_VEC_BYTES

namespace odegan::kernels::cpu {

namespace avx512 {
// Defined in matmul_avx512.cpp; false when that file was built without AVX-512.
bool compiled();
template <class T>
void tiled_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                int64_t ldb, T beta, T* c, int64_t ldc);
}  // namespace avx512

namespace {

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

// 8 floats / 4 doubles: the narrow path's explicit lanes (fixed, whatever the ISA, so
// its summation order is too).
typedef float vf8 __attribute__((vector_size(32)));
typedef double vd4 __attribute__((vector_size(32)));
template <class T>
struct NarrowSimd;
template <>
struct NarrowSimd<float> {
  using V = vf8;
  static constexpr int W = 8;
};
template <>
struct NarrowSimd<double> {
  using V = vd4;
  static constexpr int W = 4;
};

// Few output columns (n < 8, e.g. a discriminator's single logit): packing into 16- or
// 32-wide panels would waste most of the work, so compute dot products along k directly.
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
    using V = typename NarrowSimd<T>::V;
    constexpr int W = NarrowSimd<T>::W;
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

bool cpu_has_avx512f() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

GemmIsa detect_isa() {
  const bool avx512_ok = avx512::compiled() && cpu_has_avx512f();
  const char* env = std::getenv("ODEGAN_CPU_GEMM");
  const std::string want = env ? env : "auto";
  ODEGAN_CHECK(want == "auto" || want == "avx2" || want == "avx512",
               "ODEGAN_CPU_GEMM='", want, "': expected auto, avx2 or avx512");
  if (want == "avx2") return GemmIsa::avx2;
  ODEGAN_CHECK(want != "avx512" || avx512_ok,
               "ODEGAN_CPU_GEMM=avx512, but this CPU or build has no AVX-512 gemm");
  return avx512_ok ? GemmIsa::avx512 : GemmIsa::avx2;
}

// Atomic: tests switch it while other threads may be multiplying.
std::atomic<GemmIsa>& current_isa() {
  static std::atomic<GemmIsa> isa{detect_isa()};
  return isa;
}

}  // namespace

bool gemm_isa_available(GemmIsa isa) {
  return isa == GemmIsa::avx2 || (avx512::compiled() && cpu_has_avx512f());
}

GemmIsa gemm_isa() { return current_isa().load(); }

void set_gemm_isa(GemmIsa isa) {
  ODEGAN_CHECK(gemm_isa_available(isa), "set_gemm_isa: ", gemm_isa_name(isa), " is not available on this CPU/build");
  current_isa().store(isa);
}

const char* gemm_isa_name(GemmIsa isa) { return isa == GemmIsa::avx512 ? "avx512" : "avx2"; }

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
  if (current_isa().load(std::memory_order_relaxed) == GemmIsa::avx512) return avx512::tiled_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  avx2::tiled_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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
