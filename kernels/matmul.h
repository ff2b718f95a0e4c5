// Matrix products of 2-D row-major tensors: cuBLAS on CUDA, a cache-blocked,
// vectorised loop on the CPU.
#pragma once
#include "core/tensor.h"

namespace odegan::kernels {

// c = alpha * op(a) @ op(b) + beta * c, where op(x) is x or its transpose.
// op(a): (M, K), op(b): (K, N), c: (M, N). With beta == 0, c's old contents are ignored
// (even NaN).
void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha = 1.0,
          double beta = 0.0);
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

}  // namespace odegan::kernels
