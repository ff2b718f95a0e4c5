// The index plan of a reduction, computed once on the host and used by both backends:
// the input's dims are coalesced into alternating kept / reduced groups (NCHW over
// {0, 2, 3} becomes [N: reduced][C: kept][HW: reduced]), with the strides needed to walk
// outputs (kept groups) and the reduced elements of one output.
#pragma once
#include <cstdint>
#include <vector>

#include "core/shape.h"

namespace odegan::kernels {

struct ReducePlan {
  static constexpr int kMax = Shape::kMaxDims;
  int ngroups = 0;
  int64_t size[kMax] = {};      // group sizes, outermost first
  int64_t stride[kMax] = {};    // input element stride of each group
  bool reduced[kMax] = {};
  int64_t outputs = 1;          // product of kept sizes
  int64_t per_output = 1;       // product of reduced sizes
  // Kept groups (outer to inner) and reduced groups, as indices into size/stride.
  int nkept = 0, nred = 0;
  int kept[kMax] = {}, red[kMax] = {};
};

// axes: normalised, sorted, unique axes of `in` to reduce (empty = all).
ReducePlan make_reduce_plan(const Shape& in, const std::vector<int>& axes);
// Normalises (negatives), sorts and de-duplicates; empty means all axes.
std::vector<int> normalize_axes(const Shape& in, const std::vector<int>& axes);

}  // namespace odegan::kernels
