// The tiled gemm for AVX-512 (64-byte vectors, 12 x 32 float register blocks). Built with
// -mavx512f where the compiler has it; matmul.cpp uses it when the CPU has AVX-512F and
// gives the same bits either way.
#include <cstdint>

#if defined(__AVX512F__)
#define ODEGAN_GEMM_NS avx512
#define ODEGAN_GEMM_VEC_BYTES 64
#include "kernels/cpu/gemm_tiled.inl"

namespace odegan::kernels::cpu::avx512 {
bool compiled() { return true; }
}  // namespace odegan::kernels::cpu::avx512

#else
#include "core/error.h"

namespace odegan::kernels::cpu::avx512 {
bool compiled() { return false; }
template <class T>
void tiled_gemm(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, int64_t) {
  ODEGAN_FAIL("the AVX-512 gemm was not compiled into this build");
}
template void tiled_gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                int64_t, float, float*, int64_t);
template void tiled_gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                 const double*, int64_t, double, double*, int64_t);
}  // namespace odegan::kernels::cpu::avx512
#endif
