#include "layers/models/resnet.h"

#include "layers/models/dcgan.h"

namespace odegan::nn::models {

using namespace odegan::ad;

ResNetGenerator::ResNetGenerator(const std::vector<int64_t>& ch, const ResNetOptions& o)
    : c0_(ch.at(0)), conditional_(o.num_classes > 0) {
  ODEGAN_CHECK(ch.size() >= 2, "ResNetGenerator: needs at least one up-block");
  fc_ = register_module("fc", std::make_shared<Linear>(o.latent, 4 * 4 * c0_, true, o.dtype));
  BlockOptions bo{o.num_classes, false, o.bn_eps, o.bn_momentum, o.dtype};
  for (size_t i = 1; i < ch.size(); ++i)
    blocks_.push_back(register_module("block" + std::to_string(i), std::make_shared<GBlock>(ch[i - 1], ch[i], bo)));
  bn_ = register_module("bn", std::make_shared<BatchNorm2d>(ch.back(), o.bn_eps, o.bn_momentum, true, o.dtype));
  out_ = register_module("out", std::make_shared<Conv2d>(ch.back(), o.image_channels, 3, 1, 1, true, o.dtype));
}

Var ResNetGenerator::forward(const Var& z, const Tensor& labels) {
  ODEGAN_CHECK(!conditional_ || labels.defined(), "ResNetGenerator: a class-conditional generator needs labels");
  Var h = reshape((*fc_)(z), {z.shape()[0], c0_, 4, 4});
  for (auto& b : blocks_) h = b->forward(h, labels);
  return tanh((*out_)(relu((*bn_)(h))));
}

ResNetDiscriminator::ResNetDiscriminator(const std::vector<int64_t>& ch, const std::vector<bool>& down,
                                         const ResNetOptions& o)
    : conditional_(o.num_classes > 0) {
  ODEGAN_CHECK(!ch.empty() && ch.size() == down.size(), "ResNetDiscriminator: one down flag per block");
  BlockOptions bo{0, o.spectral_norm, o.bn_eps, o.bn_momentum, o.dtype};
  int64_t in = o.image_channels;
  for (size_t i = 0; i < ch.size(); ++i) {
    blocks_.push_back(
        register_module("block" + std::to_string(i + 1), std::make_shared<DBlock>(in, ch[i], down[i], i == 0, bo)));
    in = ch[i];
  }
  fc_ = register_module("fc", maybe_sn(std::make_shared<Linear>(in, 1, true, o.dtype), o.spectral_norm));
  if (conditional_)
    embed_ = register_module("embed", maybe_sn(std::make_shared<Embedding>(o.num_classes, in, o.dtype), o.spectral_norm));
}

Var ResNetDiscriminator::forward(const Var& x, const Tensor& labels) {
  Var h = x;
  for (auto& b : blocks_) h = (*b)(h);
  h = sum(relu(h), {2, 3});  // global sum pooling: (N, C)
  Var logit = (*fc_)(h);
  if (!conditional_) return logit;
  ODEGAN_CHECK(labels.defined(), "ResNetDiscriminator: a class-conditional discriminator needs labels");
  // Projection: <embed(y), h> per sample.
  auto* sn = dynamic_cast<SpectralNorm*>(embed_.get());
  Embedding& e = sn ? static_cast<Embedding&>(*sn->layer) : static_cast<Embedding&>(*embed_);
  Var proj = sum(mul(e.forward(labels), h), {1}, true);
  return add(logit, proj);
}

std::shared_ptr<ResNetGenerator> cifar_resnet_generator(const ResNetOptions& o, double width) {
  const int64_t c = scaled(256, width);
  return std::make_shared<ResNetGenerator>(std::vector<int64_t>{c, c, c, c}, o);
}

std::shared_ptr<ResNetDiscriminator> cifar_resnet_discriminator(const ResNetOptions& o, double width) {
  const int64_t c = scaled(128, width);
  return std::make_shared<ResNetDiscriminator>(std::vector<int64_t>{c, c, c, c},
                                               std::vector<bool>{true, true, false, false}, o);
}

namespace {
int blocks_for(int64_t resolution) {
  int n = 0;
  for (int64_t r = 4; r < resolution; r *= 2) ++n;
  ODEGAN_CHECK((int64_t(4) << n) == resolution && n >= 1 && n <= 5,
               "ImageNet ResNet: resolution must be 8, 16, 32, 64 or 128, got ", resolution);
  return n;
}
}  // namespace

std::shared_ptr<ResNetGenerator> imagenet_resnet_generator(const ResNetOptions& o, int64_t ch, int64_t resolution) {
  const int n = blocks_for(resolution);
  const int64_t mult[] = {16, 16, 8, 4, 2, 1};
  std::vector<int64_t> c;
  for (int i = 5 - n; i <= 5; ++i) c.push_back(mult[i] * ch);
  return std::make_shared<ResNetGenerator>(c, o);
}

std::shared_ptr<ResNetDiscriminator> imagenet_resnet_discriminator(const ResNetOptions& o, int64_t ch,
                                                                   int64_t resolution) {
  const int n = blocks_for(resolution);
  // n down-samplings (the optimised block and n - 1 down-blocks), then one plain block.
  const int64_t mult[] = {1, 2, 4, 8, 16};
  std::vector<int64_t> c;
  std::vector<bool> down;
  for (int i = 0; i < n; ++i) {
    c.push_back(mult[i] * ch);
    down.push_back(true);
  }
  c.push_back(c.back());
  down.push_back(false);
  return std::make_shared<ResNetDiscriminator>(c, down, o);
}

}  // namespace odegan::nn::models
