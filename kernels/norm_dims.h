// Batch-norm layout shared by both backends: x seen as [N][C][HW].
#pragma once
#include <cstdint>

namespace odegan::kernels {
struct NormDims {
  int64_t n = 0, c = 0, hw = 1;
  int64_t per_channel() const { return n * hw; }
};
}  // namespace odegan::kernels
