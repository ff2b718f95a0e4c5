// Pooling and resampling over NCHW: average and max pooling, nearest upsampling by 2.
#pragma once
#include "core/tensor.h"

namespace odegan::kernels {

struct Pool2dGeometry {
  int kernel_h = 2, kernel_w = 2;
  int stride_h = 2, stride_w = 2;
  int pad_h = 0, pad_w = 0;
  static Pool2dGeometry make(int kernel, int stride, int pad = 0) { return {kernel, kernel, stride, stride, pad, pad}; }
};

Shape pool2d_output_shape(const Shape& x, const Pool2dGeometry& g);

// Average over the window; padded positions are not counted (count_include_pad = false).
void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g);
void avg_pool2d_backward(const Tensor& gy, Tensor& gx, const Pool2dGeometry& g);  // gx: shape of x

// Max over the window; `indices` (int32, shape of y) records the flat position h * W + w
// of each maximum within its (n, c) plane (first maximum wins).
void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g);
// gx[n, c, indices] += gy: the adjoint of gathering at indices. gx (shape of x) is overwritten.
void max_pool2d_backward(const Tensor& gy, const Tensor& indices, Tensor& gx, const Pool2dGeometry& g);
// y[n, c, p, q] = x[n, c, indices[n, c, p, q]]: the adjoint of max_pool2d_backward.
void max_pool2d_gather(const Tensor& x, const Tensor& indices, Tensor& y);

// Nearest-neighbour upsampling by 2: (N, C, H, W) -> (N, C, 2H, 2W).
void upsample_nearest2x(const Tensor& x, Tensor& y);
// Its adjoint: each output pixel sums its 2x2 block: (N, C, 2H, 2W) -> (N, C, H, W).
void upsample_nearest2x_backward(const Tensor& gy, Tensor& gx);

}  // namespace odegan::kernels
