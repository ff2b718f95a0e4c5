// CUDA implementations of kernels/elementwise.h (shapes already checked by the caller).
#pragma once
#include <utility>
#include <vector>

#include "kernels/broadcast.h"
#include "kernels/elementwise.h"

namespace odegan::kernels::cuda {
void unary(Unary op, const Tensor& x, Tensor& out, double a, double b);
void binary(Binary op, const Tensor& x, const Tensor& y, Tensor& out, double a, const BroadcastPlan& plan);
void lincomb(Tensor& out, double c0, const Tensor& x0, const std::vector<std::pair<double, Tensor>>& terms);
}  // namespace odegan::kernels::cuda
