// Batch normalisation over NCHW (statistics per channel over N, H, W) or (N, C)
// (statistics per feature over N). gamma and beta are per-channel (C).
#pragma once
#include "core/tensor.h"

namespace odegan::kernels {

// Training mode: batch mean and biased variance give y = (x - mean) * invstd * gamma + beta
// with invstd = 1 / sqrt(var + eps). Writes save_mean and save_invstd (C) for backward.
// When running_mean / running_var are defined they are updated in place:
// running = (1 - momentum) * running + momentum * batch (the variance unbiased, M / (M - 1)).
void batch_norm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                                 double momentum, Tensor& running_mean, Tensor& running_var, Tensor& y,
                                 Tensor& save_mean, Tensor& save_invstd);

// Inference mode: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
void batch_norm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                  const Tensor& running_mean, const Tensor& running_var, double eps, Tensor& y);

// Training-mode backward (the statistics depend on x):
//   gx     = gamma * invstd * (gy - mean(gy) - xhat * mean(gy * xhat))
//   ggamma = sum(gy * xhat),  gbeta = sum(gy)      (means and sums per channel)
// Any of gx, ggamma, gbeta may be undefined, and is then not computed.
void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, Tensor& gx, Tensor& ggamma, Tensor& gbeta);

}  // namespace odegan::kernels
