// Bilinear resampling of NCHW images to any size, exactly as PyTorch's
// F.interpolate(mode="bilinear", align_corners=False) (pytorch-fid resizes to 299x299 so).
#pragma once
#include "core/tensor.h"

namespace odegan::kernels {

// y (N, C, OH, OW) = x (N, C, H, W) resampled; the output size is y's shape. Output pixel u
// reads source position s = max(0, (u + 0.5) H / OH - 0.5), rows floor(s) and the next one
// (clamped to the last row), weights 1 - frac(s) and frac(s); likewise for columns. The
// weights are computed in the tensor's dtype, as PyTorch does; equal sizes copy.
void resize_bilinear(const Tensor& x, Tensor& y);
// The adjoint: gx (N, C, H, W), overwritten, from gy (N, C, OH, OW). Deterministic (each
// input element gathers the outputs that read it).
void resize_bilinear_backward(const Tensor& gy, Tensor& gx);

}  // namespace odegan::kernels
