// The per-element arithmetic of the fused optimiser kernels, shared by CPU and CUDA.
#pragma once
#include <cmath>

#include "kernels/elementwise_ops.h"  // ODEGAN_HD, m_sqrt

namespace odegan::kernels::ops {

// Updates m and v in place and returns Adam's direction for one coordinate.
template <class T>
ODEGAN_HD T adam_direction(T g, T& m, T& v, T b1, T b2, T eps, T inv_bc1, T inv_bc2) {
  m = b1 * m + (T(1) - b1) * g;
  v = b2 * v + (T(1) - b2) * g * g;
  return (m * inv_bc1) / (m_sqrt(v * inv_bc2) + eps);
}

}  // namespace odegan::kernels::ops
