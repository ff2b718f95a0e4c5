#include "layers/blocks.h"

namespace odegan::nn {

using namespace odegan::ad;

std::shared_ptr<Module> maybe_sn(std::shared_ptr<Weighted> layer, bool sn) {
  if (sn) return spectral_norm(std::move(layer));
  return layer;
}

GBlock::GBlock(int64_t in, int64_t out, const BlockOptions& o) : conditional_(o.num_classes > 0) {
  if (conditional_) {
    bn1_ = register_module("bn1", std::make_shared<ConditionalBatchNorm2d>(in, o.num_classes, o.bn_eps, o.bn_momentum,
                                                                          o.dtype));
  } else {
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(in, o.bn_eps, o.bn_momentum, true, o.dtype));
  }
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(in, out, 3, 1, 1, true, o.dtype));
  if (conditional_) {
    bn2_ = register_module("bn2", std::make_shared<ConditionalBatchNorm2d>(out, o.num_classes, o.bn_eps,
                                                                          o.bn_momentum, o.dtype));
  } else {
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out, o.bn_eps, o.bn_momentum, true, o.dtype));
  }
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(out, out, 3, 1, 1, true, o.dtype));
  shortcut_ = register_module("shortcut", std::make_shared<Conv2d>(in, out, 1, 1, 0, true, o.dtype));
}

Var GBlock::norm(int which, const Var& x, const Tensor& labels) {
  Module& bn = which == 1 ? *bn1_ : *bn2_;
  if (conditional_) return static_cast<ConditionalBatchNorm2d&>(bn).forward(x, labels);
  return bn(x);
}

Var GBlock::forward(const Var& x, const Tensor& labels) {
  Var h = relu(norm(1, x, labels));
  h = (*conv1_)(upsample_nearest2x(h));
  h = (*conv2_)(relu(norm(2, h, labels)));
  return add(h, (*shortcut_)(upsample_nearest2x(x)));
}

DBlock::DBlock(int64_t in, int64_t out, bool downsample, bool optimized, const BlockOptions& o)
    : downsample_(downsample || optimized), optimized_(optimized) {
  conv1_ = register_module("conv1", maybe_sn(std::make_shared<Conv2d>(in, out, 3, 1, 1, true, o.dtype), o.spectral_norm));
  conv2_ = register_module("conv2", maybe_sn(std::make_shared<Conv2d>(out, out, 3, 1, 1, true, o.dtype), o.spectral_norm));
  if (in != out || downsample_)
    shortcut_ = register_module("shortcut",
                                maybe_sn(std::make_shared<Conv2d>(in, out, 1, 1, 0, true, o.dtype), o.spectral_norm));
}

Var DBlock::forward(const Var& x) {
  const kernels::Pool2dGeometry pool = kernels::Pool2dGeometry::make(2, 2);
  Var h = optimized_ ? (*conv1_)(x) : (*conv1_)(relu(x));
  h = (*conv2_)(relu(h));
  if (downsample_) h = avg_pool2d(h, pool);
  Var s = x;
  if (optimized_) {
    s = (*shortcut_)(avg_pool2d(x, pool));
  } else if (shortcut_) {
    s = (*shortcut_)(x);
    if (downsample_) s = avg_pool2d(s, pool);
  }
  return add(h, s);
}

}  // namespace odegan::nn
