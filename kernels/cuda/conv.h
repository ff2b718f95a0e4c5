// CUDA convolutions (kernels/conv.h) on cuDNN.
#pragma once
#include "kernels/conv.h"

namespace odegan::kernels::cuda {
void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dGeometry& g);
void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dGeometry& g);
void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& gw, const Conv2dGeometry& g);
// Forgets the chosen algorithms (tests: the next call chooses afresh).
void clear_conv_algorithm_cache();
}  // namespace odegan::kernels::cuda
