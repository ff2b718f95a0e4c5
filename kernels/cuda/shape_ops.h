// CUDA implementations of kernels/shape_ops.h (arguments checked by the caller).
#pragma once
#include "kernels/shape_ops.h"
#include "kernels/shape_ops_plan.h"

namespace odegan::kernels::cuda {
// out[o, out_begin + i, :] = src[o, src_begin + i, :] for i < count (same outer/inner).
void copy_axis_block(const Tensor& src, const AxisView& sv, int64_t src_begin, Tensor& out, const AxisView& ov,
                     int64_t out_begin, int64_t count);
void transpose_last2(const Tensor& x, Tensor& out, int64_t batch, int64_t m, int64_t k);
void embedding_gather(const Tensor& table, const Tensor& indices, Tensor& out);
void embedding_scatter_add(const Tensor& g, const Tensor& indices, Tensor& out);
void one_hot(const Tensor& indices, Tensor& out);
// Records the first index outside [0, limit) in the context's device error record
// (raised, naming `op`, at the next synchronisation); no host copy. `op` must be a
// string literal. The kernels above skip such indices, so nothing reads out of bounds.
void check_indices(const Tensor& indices, int64_t limit, const char* op);
}  // namespace odegan::kernels::cuda
