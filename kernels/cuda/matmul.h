// CUDA implementation of kernels/matmul.h (cuBLAS).
#pragma once
#include <cstdint>

#include "kernels/matmul.h"

namespace odegan::kernels::cuda {
void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha, double beta,
          int64_t m, int64_t n, int64_t k);
}  // namespace odegan::kernels::cuda
