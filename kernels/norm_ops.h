// Batch norm's arithmetic, written once for both backends (kernels/cpu/norm.cpp and
// kernels/cuda/norm.cu); the backends only differ in how they walk a channel and reduce
// its sums (CPU: one loop in order; CUDA: one block per channel, a fixed-order tree).
// Statistics, the folded per-channel affine maps and the backward's per-element formula
// are computed in double; only the per-element y = x * scale + shift runs in T.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/philox.h"  // ODEGAN_HD
#include "kernels/norm_dims.h"

namespace odegan::kernels::norm_ops {

// 1 / sqrt(var + eps), var the biased batch variance.
ODEGAN_HD double invstd(double var, double eps) { return 1.0 / sqrt(var + eps); }

// Training: gamma * (x - mean) * invstd + beta folded into x * scale + shift.
ODEGAN_HD void training_affine(double gamma, double beta, double mean, double inv, double& scale, double& shift) {
  scale = gamma * inv;
  shift = beta - mean * scale;
}

// Inference: gamma * (x - running_mean) / sqrt(running_var + eps) + beta, folded likewise.
ODEGAN_HD void inference_affine(double gamma, double beta, double rm, double rv, double eps, double& scale,
                                double& shift) {
  scale = gamma / sqrt(rv + eps);
  shift = beta - rm * scale;
}

template <class T>
ODEGAN_HD T apply(T x, T scale, T shift) {
  return x * scale + shift;
}

// running = (1 - momentum) running + momentum batch, with the unbiased variance (m / (m - 1));
// a channel of one element has no unbiased variance: its running variance is kept.
template <class T>
ODEGAN_HD void update_running(T& rm, T& rv, double mean, double var, int64_t m, double momentum) {
  rm = static_cast<T>((1 - momentum) * static_cast<double>(rm) + momentum * mean);
  if (m > 1)
    rv = static_cast<T>((1 - momentum) * static_cast<double>(rv) +
                        momentum * var * static_cast<double>(m) / static_cast<double>(m - 1));
}

// xhat = (x - mean) * invstd.
ODEGAN_HD double xhat(double x, double mean, double inv) { return (x - mean) * inv; }

// The input gradient of one element, from the channel's sums sg = sum(gy) and
// sgx = sum(gy * xhat) over its m elements:
//   gx = gamma * invstd * (gy - sg / m - xhat * sgx / m).
struct BackwardChannel {
  double mean, inv, k, mg, mgx;  // k = gamma * invstd, mg = sg / m, mgx = sgx / m
};
ODEGAN_HD BackwardChannel backward_channel(double gamma, double mean, double inv, double sg, double sgx, double m) {
  return {mean, inv, gamma * inv, sg / m, sgx / m};
}
ODEGAN_HD double backward_dx(const BackwardChannel& b, double gy, double x) {
  return b.k * (gy - b.mg - xhat(x, b.mean, b.inv) * b.mgx);
}

}  // namespace odegan::kernels::norm_ops
