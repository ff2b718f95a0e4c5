// CUDA implementation of kernels/optim.h.
#pragma once
#include "kernels/optim.h"

namespace odegan::kernels::cuda {
void adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, Tensor& dir, double lr, const AdamParams& p);
}
