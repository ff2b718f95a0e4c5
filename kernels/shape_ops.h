// Data movement: concatenation and slicing along any axis, transposing the last two
// axes, and the embedding gather / scatter-add pair (with one-hot encoding).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace odegan::kernels {

// Concatenates along `axis` (all other dims equal).
Tensor concat(const std::vector<Tensor>& xs, int axis);
// Copies x[..., begin:end, ...] (along axis) into a new tensor.
Tensor slice_axis(const Tensor& x, int axis, int64_t begin, int64_t end);
// Writes src into out[..., begin:begin + src.size(axis), ...]; other elements untouched.
// (slice_axis's adjoint is a zero tensor followed by this.)
void slice_axis_assign(const Tensor& src, int axis, int64_t begin, Tensor& out);

// (..., M, N) -> (..., N, M).
Tensor transpose_last2(const Tensor& x);

// out[i, :] = table[indices[i], :]; table (V, D), indices int32 (N) -> (N, D).
// Throws naming the index when one is out of range.
Tensor embedding_gather(const Tensor& table, const Tensor& indices);
// The adjoint: out (V, D) = zeros; out[indices[i], :] += g[i, :]. Deterministic.
Tensor embedding_scatter_add(const Tensor& g, const Tensor& indices, int64_t num_rows);
// (N) int32 -> (N, num_classes) in `dtype`.
Tensor one_hot(const Tensor& indices, int64_t num_classes, DType dtype);

}  // namespace odegan::kernels
