// 2-D convolution (cross-correlation, as in every DL framework) over NCHW tensors:
// forward, backward-data and backward-filter. cuDNN on CUDA (algorithm chosen once per
// shape and cached, with one shared, capped workspace); im2col + gemm on the CPU.
// A transposed convolution is the backward-data of a convolution.
#pragma once
#include "core/tensor.h"

namespace odegan::kernels {

struct Conv2dGeometry {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  static Conv2dGeometry make(int stride, int pad, int dilation = 1) {
    return {stride, stride, pad, pad, dilation, dilation};
  }
};

// x (N, C, H, W), w (K, C, R, S) -> (N, K, P, Q). Throws naming the shapes if empty.
Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dGeometry& g);
// Transposed convolution: x (N, C_in, H, W), w (C_in, C_out, R, S) -> (N, C_out, H', W')
// with H' = (H - 1) * stride - 2 * pad + dilation * (R - 1) + output_padding + 1.
Shape conv_transpose2d_output_shape(const Shape& x, const Shape& w, const Conv2dGeometry& g,
                                    int output_padding_h = 0, int output_padding_w = 0);

// y = conv(x, w); y must have conv2d_output_shape.
void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dGeometry& g);
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Conv2dGeometry& g);

// gx = d<gy, conv(x, w)>/dx. gx's shape (that of x) is given by the caller, since
// strided convolutions cannot recover it from gy.
void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dGeometry& g);
Tensor conv2d_backward_data(const Tensor& gy, const Tensor& w, const Shape& x_shape, const Conv2dGeometry& g);

// gw = d<gy, conv(x, w)>/dw, shape of w given by the caller.
void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& gw, const Conv2dGeometry& g);
Tensor conv2d_backward_filter(const Tensor& x, const Tensor& gy, const Shape& w_shape, const Conv2dGeometry& g);

}  // namespace odegan::kernels
