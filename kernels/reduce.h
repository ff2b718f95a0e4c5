// Reductions: sum, mean, max, sum of squares over all elements or chosen axes, the
// broadcast/sum-to pair that gradients of broadcasting need, and a finiteness check.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace odegan::kernels {

enum class Reduce : unsigned char { sum, mean, max, sum_squares };

// The shape a reduction over `axes` produces (axes empty = all axes; negatives allowed).
Shape reduced_shape(const Shape& in, const std::vector<int>& axes, bool keepdim);

// out must have reduced_shape(x.shape(), axes, keepdim).
void reduce(Reduce op, const Tensor& x, Tensor& out, const std::vector<int>& axes, bool keepdim);
Tensor reduce(Reduce op, const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);

inline Tensor sum(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false) {
  return reduce(Reduce::sum, x, axes, keepdim);
}
inline Tensor mean(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false) {
  return reduce(Reduce::mean, x, axes, keepdim);
}
inline Tensor max(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false) {
  return reduce(Reduce::max, x, axes, keepdim);
}
// Sum of squares of all elements, as a 0-d tensor on x's device.
inline Tensor sum_squares(const Tensor& x) { return reduce(Reduce::sum_squares, x, {}, false); }

// Repeats x along broadcast dimensions to `shape` (NumPy rules).
void broadcast_to(const Tensor& x, Tensor& out);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// The adjoint of broadcast_to: sums x over the dimensions broadcasting added or
// expanded, giving `shape` (which must broadcast to x.shape()).
Tensor sum_to(const Tensor& x, const Shape& shape);

// True when no element is NaN or +-Inf.
bool all_finite(const Tensor& x);

}  // namespace odegan::kernels
