// CUDA half of the RNG fills (same per-counter arithmetic as the CPU: core/philox.h).
#pragma once
#include <cstdint>

#include "core/philox.h"
#include "core/tensor.h"

namespace odegan::cuda_impl {
void random_fill(Tensor& t, philox::Dist dist, const philox::DistParams& params, uint64_t seed,
                 uint64_t first_counter);
}  // namespace odegan::cuda_impl
