// CUDA implementations of kernels/reduce.h (arguments checked by the caller).
#pragma once
#include "kernels/broadcast.h"
#include "kernels/reduce.h"
#include "kernels/reduce_plan.h"

namespace odegan::kernels::cuda {
void reduce(Reduce op, const Tensor& x, Tensor& out, const ReducePlan& plan);
void broadcast_copy(const Tensor& x, Tensor& out, const BroadcastPlan& plan);
void all_finite(const Tensor& x, bool& ok);
}  // namespace odegan::kernels::cuda
