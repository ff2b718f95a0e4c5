// ResNet GANs of the SN-GAN paper (Miyato et al. 2018), as used for CIFAR-10 and for
// class-conditional ImageNet 128x128 (projection discriminator, Miyato & Koyama 2018).
//   G: z -> linear 4*4*C0 -> reshape -> up-blocks (x2 each) -> BN -> ReLU -> conv3x3 -> tanh
//   D: optimised first block, down-blocks, plain blocks -> ReLU -> global sum pool
//      -> linear logit (+ projection <embed(y), h> when conditional)
#pragma once
#include <memory>
#include <vector>

#include "layers/blocks.h"

namespace odegan::nn::models {

struct ResNetOptions {
  int64_t latent = 128;
  int64_t image_channels = 3;
  int64_t num_classes = 0;     // > 0: class-conditional (conditional BN in G, projection in D)
  bool spectral_norm = false;  // on every layer of D (the SN-GAN baseline)
  double bn_eps = 1e-5, bn_momentum = 0.1;
  DType dtype = DType::f32;
};

class ResNetGenerator : public Module {
 public:
  // channels[0] at 4x4, then one up-block per further entry (resolution 4 * 2^blocks).
  ResNetGenerator(const std::vector<int64_t>& channels, const ResNetOptions& o);
  std::string type_name() const override { return "ResNetGenerator"; }
  Var forward(const Var& z) override { return forward(z, Tensor()); }
  Var forward(const Var& z, const Tensor& labels);
  int64_t resolution() const { return 4 << blocks_.size(); }

 private:
  std::shared_ptr<Linear> fc_;
  std::vector<std::shared_ptr<GBlock>> blocks_;
  std::shared_ptr<BatchNorm2d> bn_;
  std::shared_ptr<Conv2d> out_;
  int64_t c0_;
  bool conditional_;
};

class ResNetDiscriminator : public Module {
 public:
  // One block per entry: the first is the optimised block; `down[i]` says whether block
  // i halves the resolution.
  ResNetDiscriminator(const std::vector<int64_t>& channels, const std::vector<bool>& down, const ResNetOptions& o);
  std::string type_name() const override { return "ResNetDiscriminator"; }
  Var forward(const Var& x) override { return forward(x, Tensor()); }
  Var forward(const Var& x, const Tensor& labels);

 private:
  std::vector<std::shared_ptr<DBlock>> blocks_;
  std::shared_ptr<Module> fc_;
  std::shared_ptr<Module> embed_;  // projection (conditional only)
  bool conditional_;
};

// CIFAR-10 (SN-GAN / WGAN-GP): G with 256 channels and 3 up-blocks (4 -> 32); D with 128
// channels: optimised block, one down-block, two plain blocks. `width` scales channels.
std::shared_ptr<ResNetGenerator> cifar_resnet_generator(const ResNetOptions& o = {}, double width = 1.0);
std::shared_ptr<ResNetDiscriminator> cifar_resnet_discriminator(const ResNetOptions& o = {}, double width = 1.0);

// ImageNet 128x128 (class-conditional by default): G channels 16ch, 16ch, 8ch, 4ch, 2ch, ch
// (5 up-blocks 4 -> 128); D blocks ch, 2ch, 4ch, 8ch, 16ch (down) and 16ch (plain).
// Smaller resolutions (a power of two >= 8) use the last blocks of G and the first of D.
std::shared_ptr<ResNetGenerator> imagenet_resnet_generator(const ResNetOptions& o, int64_t ch = 64,
                                                           int64_t resolution = 128);
std::shared_ptr<ResNetDiscriminator> imagenet_resnet_discriminator(const ResNetOptions& o, int64_t ch = 64,
                                                                   int64_t resolution = 128);

}  // namespace odegan::nn::models
