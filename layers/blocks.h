// Residual blocks of the SN-GAN / WGAN-GP ResNets (Miyato et al. 2018; Gulrajani et al.
// 2017), unconditional or class-conditional.
#pragma once
#include <memory>

#include "layers/layers.h"
#include "layers/spectral_norm.h"

namespace odegan::nn {

struct BlockOptions {
  int64_t num_classes = 0;  // > 0: conditional batch norm (generator blocks)
  bool spectral_norm = false;  // discriminator blocks: spectral norm on every conv
  double bn_eps = 1e-5, bn_momentum = 0.1;
  DType dtype = DType::f32;
};

// Generator up-block:  x -> BN -> ReLU -> up x2 -> conv3x3 -> BN -> ReLU -> conv3x3
//                      + shortcut: up x2 -> conv1x1
class GBlock : public Module {
 public:
  GBlock(int64_t in, int64_t out, const BlockOptions& o = {});
  std::string type_name() const override { return "GBlock"; }
  Var forward(const Var& x) override { return forward(x, Tensor()); }
  Var forward(const Var& x, const Tensor& labels);

 private:
  Var norm(int which, const Var& x, const Tensor& labels);
  std::shared_ptr<Module> bn1_, bn2_;
  std::shared_ptr<Conv2d> conv1_, conv2_, shortcut_;
  bool conditional_;
};

// Discriminator block:  x -> ReLU -> conv3x3 -> ReLU -> conv3x3 [-> avgpool 2]
//   + shortcut: [conv1x1 when channels change or downsampling] [-> avgpool 2]
// `optimized` is SN-GAN's first block, applied to the image (no leading ReLU):
//   x -> conv3x3 -> ReLU -> conv3x3 -> avgpool 2   + shortcut: avgpool 2 -> conv1x1
class DBlock : public Module {
 public:
  DBlock(int64_t in, int64_t out, bool downsample, bool optimized = false, const BlockOptions& o = {});
  std::string type_name() const override { return optimized_ ? "OptimizedDBlock" : "DBlock"; }
  Var forward(const Var& x) override;

 private:
  std::shared_ptr<Module> conv1_, conv2_, shortcut_;
  bool downsample_, optimized_;
};

// A Linear or Conv2d, wrapped in spectral norm when asked.
std::shared_ptr<Module> maybe_sn(std::shared_ptr<Weighted> layer, bool sn);

}  // namespace odegan::nn
