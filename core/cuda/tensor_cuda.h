// CUDA halves of Tensor::fill_ and Tensor::to(DType). Internal to core/.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace odegan::cuda_impl {
void fill(void* ptr, int64_t n, DType dtype, double value, int device);
void cast(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n, int device);
}  // namespace odegan::cuda_impl
