// A tensor seen as [outer, axis, inner] around one axis (shared by both backends).
#pragma once
#include <cstdint>

namespace odegan::kernels {
struct AxisView {
  int64_t outer = 1, axis = 1, inner = 1;
};
}  // namespace odegan::kernels
