// The paper's mixture-of-Gaussians networks: two hidden layers of 25 units with ReLU.
//   G: z (N, 32) -> 25 -> 25 -> 2        D: x (N, 2) -> 25 -> 25 -> 1 logit
#pragma once
#include <memory>

#include "layers/layers.h"

namespace odegan::nn::models {

std::shared_ptr<Sequential> mog_generator(int64_t latent = 32, int64_t hidden = 25, int depth = 2,
                                          DType dtype = DType::f32);
std::shared_ptr<Sequential> mog_discriminator(int64_t hidden = 25, int depth = 2, DType dtype = DType::f32);

}  // namespace odegan::nn::models
