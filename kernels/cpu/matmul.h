// CPU gemm (kernels/matmul.h), also used by the CPU convolutions on raw pointers.
#pragma once
#include <cstdint>

#include "kernels/matmul.h"

namespace odegan::kernels::cpu {

void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha, double beta,
          int64_t m, int64_t n, int64_t k);

// The tiled gemm sums over k in blocks of this many, in order, starting at k = 0 (the
// same in every instruction set). So a product split along k at multiples of it, the
// later parts added with beta = 1, gives the same bits as the whole product (n >= 8).
constexpr int64_t kGemmKBlock = 256;

// C (m x n, leading dim ldc) = alpha op(A) op(B) + beta C on raw row-major buffers.
template <class T>
void gemm_raw(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
              const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The instruction set of the tiled gemm. The widest available is chosen at start-up
// (ODEGAN_CPU_GEMM=avx2|avx512|auto overrides); every choice gives the same bits.
enum class GemmIsa { avx2, avx512 };
bool gemm_isa_available(GemmIsa isa);
GemmIsa gemm_isa();
void set_gemm_isa(GemmIsa isa);  // for tests and benchmarks; throws when unavailable
const char* gemm_isa_name(GemmIsa isa);

}  // namespace odegan::kernels::cpu
