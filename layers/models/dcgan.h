// The "DCGAN" the ODE-GAN paper trains on CIFAR-10: the CNN of the SN-GAN paper
// (Miyato et al. 2018, Table 3), for 32x32 images (or any multiple of 8).
//   G: z (N, 128) -> linear 4*4*512 -> reshape -> [deconv 4x4 s2 -> BN -> ReLU] x3 (256, 128, 64)
//      -> deconv 3x3 s1 -> C channels -> tanh
//   D: conv 64 3x3 s1, 64 4x4 s2, 128 3x3 s1, 128 4x4 s2, 256 3x3 s1, 256 4x4 s2, 512 3x3 s1,
//      each followed by LeakyReLU(0.1) -> flatten -> linear to 1 logit (or 2, as the reference);
//      with spectral_norm, every conv and the linear layer wrapped in SpectralNorm (SN-GAN)
#pragma once
#include <memory>

#include "layers/layers.h"

namespace odegan::nn::models {

struct DcganOptions {
  int64_t latent = 128;
  int64_t image_channels = 3;  // 1 for the MNIST family
  int64_t image_size = 32;     // multiple of 8
  double width = 1.0;          // multiplies every channel count (shrinks the nets for CPU runs)
  int logits = 1;              // 1, or 2 as the reference code's softmax discriminator
  double bn_eps = 1e-3, bn_momentum = 0.001;  // the reference (Sonnet): eps 1e-3, decay 0.999
  bool spectral_norm = false;  // on every layer of D: the SN-GAN baseline of the paper's Table 1 (DCGAN)
  DType dtype = DType::f32;
};

std::shared_ptr<Sequential> dcgan_generator(const DcganOptions& o = {});
std::shared_ptr<Sequential> dcgan_discriminator(const DcganOptions& o = {});
// Channel count after applying the width multiplier (at least 1).
int64_t scaled(int64_t channels, double width);

}  // namespace odegan::nn::models
