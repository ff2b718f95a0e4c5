// Row-major gemm through column-major cuBLAS: C^T = op(B)^T op(A)^T, so cuBLAS computes
// with the operands swapped and each matrix read as its own transpose.
#include "kernels/cuda/matmul.h"

#include <algorithm>

#include "core/cuda/context.h"
#include "core/cuda/cuda_check.h"

namespace odegan::kernels::cuda {

void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha, double beta,
          int64_t m, int64_t n, int64_t k) {
  if (m == 0 || n == 0) return;
  const int dev = a.device().index;
  CudaDeviceGuard guard(dev);
  cublasHandle_t h = CudaContext::get(dev).cublas();
  const cublasOperation_t opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  // cuBLAS wants every leading dimension >= 1 even when k == 0 (then C = beta C, as on the CPU).
  const int lda = static_cast<int>(std::max<int64_t>(1, a.shape()[1]));
  const int ldb = static_cast<int>(std::max<int64_t>(1, b.shape()[1]));
  const int ldc = static_cast<int>(n);
  ODEGAN_CHECK(m < (1ll << 31) && n < (1ll << 31) && k < (1ll << 31), "matmul: dimensions exceed cuBLAS's int range");
  if (a.dtype() == DType::f32) {
    const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
    ODEGAN_CUBLAS_CHECK(cublasSgemm(h, opb, opa, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &al,
                                    b.data<float>(), ldb, a.data<float>(), lda, &be, c.data<float>(), ldc));
  } else {
    ODEGAN_CUBLAS_CHECK(cublasDgemm(h, opb, opa, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha,
                                    b.data<double>(), ldb, a.data<double>(), lda, &beta, c.data<double>(), ldc));
  }
}

}  // namespace odegan::kernels::cuda
