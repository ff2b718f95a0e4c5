// The index plan of a broadcasting binary op, computed once on the host and used by
// both the CPU loop and the CUDA kernel: dimensions are coalesced where both inputs
// are contiguous across them, so most real cases collapse to 1-3 dimensions.
#pragma once
#include <cstdint>

#include "core/shape.h"

namespace odegan::kernels {

struct BroadcastPlan {
  static constexpr int kMax = Shape::kMaxDims;
  enum Kind : int { same, x_scalar, y_scalar, general };
  Kind kind = general;
  int ndim = 0;             // coalesced rank (>= 1)
  int64_t numel = 0;        // output elements
  int64_t dims[kMax] = {};  // coalesced output dims
  int64_t xs[kMax] = {};    // element strides of x per coalesced dim (0 = broadcast)
  int64_t ys[kMax] = {};    // same for y
};

// out_shape must be broadcast_shapes(x, y) (checked by the caller).
BroadcastPlan make_broadcast_plan(const Shape& x, const Shape& y, const Shape& out_shape);

}  // namespace odegan::kernels
