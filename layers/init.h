// Parameter initialisers, seeded through the framework RNG so that a model initialised
// with the same seed is identical on the CPU and on any GPU.
#pragma once
#include "core/rng.h"
#include "core/tensor.h"
#include "layers/module.h"

namespace odegan::nn {

// Fills a weight with the scheme `init` (see Init) for the given fans.
void init_weight(Tensor& w, int64_t fan_in, int64_t fan_out, Init init, Generator& gen);
// Biases are zero, except kaiming_uniform (PyTorch's default): U(-1/sqrt(fan_in), +).
void init_bias(Tensor& b, int64_t fan_in, Init init, Generator& gen);

}  // namespace odegan::nn
