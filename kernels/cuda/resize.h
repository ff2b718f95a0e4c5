// CUDA bilinear resampling (kernels/resize.h); arguments checked by the caller.
#pragma once
#include "kernels/pool_ops.h"
#include "kernels/resize.h"

namespace odegan::kernels::cuda {
void resize_bilinear(const Tensor& x, Tensor& y, const PoolDims& d);
void resize_bilinear_backward(const Tensor& gy, Tensor& gx, const PoolDims& d);
}  // namespace odegan::kernels::cuda
