// CUDA pooling and upsampling (kernels/pool.h); arguments checked by the caller.
#pragma once
#include "kernels/pool.h"
#include "kernels/pool_ops.h"

namespace odegan::kernels::cuda {
void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g, const PoolDims& d);
void avg_pool2d_backward(const Tensor& gy, Tensor& gx, const Pool2dGeometry& g, const PoolDims& d);
void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g, const PoolDims& d);
void max_pool2d_backward(const Tensor& gy, const Tensor& indices, Tensor& gx, const Pool2dGeometry& g,
                         const PoolDims& d);
void max_pool2d_gather(const Tensor& x, const Tensor& indices, Tensor& y, const PoolDims& d);
void upsample_nearest2x(const Tensor& x, Tensor& y, const PoolDims& d);
void upsample_nearest2x_backward(const Tensor& gy, Tensor& gx, const PoolDims& d);
}  // namespace odegan::kernels::cuda
