// CPU batch norm (kernels/norm.h); arguments checked by the caller.
#pragma once
#include "kernels/norm.h"
#include "kernels/norm_dims.h"

namespace odegan::kernels::cpu {
void batch_norm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, double momentum,
                                 Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                                 Tensor& save_invstd, const NormDims& d);
void batch_norm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                  const Tensor& running_var, double eps, Tensor& y, const NormDims& d);
void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, Tensor& gx, Tensor& ggamma, Tensor& gbeta, const NormDims& d);
}  // namespace odegan::kernels::cpu
