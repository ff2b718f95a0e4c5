// Fused optimiser updates over flat buffers (one pass each).
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace odegan::kernels {

struct AdamParams {
  double beta1 = 0.5, beta2 = 0.999, eps = 1e-8;
  int64_t step = 1;  // 1-based, for the bias corrections 1 - beta^step
};

// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
// dir = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps);  param -= lr * dir.
// All tensors flat-compatible (same numel, dtype, device). `param` may be undefined, then
// only the moments are updated and the direction is written to `dir` (if defined).
void adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, Tensor& dir, double lr,
                 const AdamParams& p);

}  // namespace odegan::kernels
