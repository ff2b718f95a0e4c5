#include "layers/models/dcgan.h"

#include "layers/blocks.h"

#include <cmath>

namespace odegan::nn::models {

int64_t scaled(int64_t channels, double width) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::lround(channels * width)));
}

std::shared_ptr<Sequential> dcgan_generator(const DcganOptions& o) {
  ODEGAN_CHECK(o.image_size >= 8 && o.image_size % 8 == 0, "dcgan: image size must be a multiple of 8, got ",
               o.image_size);
  const int64_t base = o.image_size / 8;
  const int64_t c0 = scaled(512, o.width), c1 = scaled(256, o.width), c2 = scaled(128, o.width), c3 = scaled(64, o.width);
  auto g = std::make_shared<Sequential>();
  g->add(std::make_shared<Linear>(o.latent, base * base * c0, true, o.dtype));
  g->add(std::make_shared<Reshape>(std::vector<int64_t>{c0, base, base}));
  int64_t in = c0;
  for (int64_t out : {c1, c2, c3}) {
    g->add(std::make_shared<ConvTranspose2d>(in, out, 4, 2, 1, 0, true, o.dtype));
    g->add(std::make_shared<BatchNorm2d>(out, o.bn_eps, o.bn_momentum, true, o.dtype));
    g->add(std::make_shared<ReLU>());
    in = out;
  }
  g->add(std::make_shared<ConvTranspose2d>(in, o.image_channels, 3, 1, 1, 0, true, o.dtype));
  g->add(std::make_shared<Tanh>());
  return g;
}

std::shared_ptr<Sequential> dcgan_discriminator(const DcganOptions& o) {
  ODEGAN_CHECK(o.image_size >= 8 && o.image_size % 8 == 0, "dcgan: image size must be a multiple of 8, got ",
               o.image_size);
  ODEGAN_CHECK(o.logits == 1 || o.logits == 2, "dcgan: the discriminator has 1 or 2 logits, not ", o.logits);
  auto d = std::make_shared<Sequential>();
  struct L {
    int64_t out;
    int k, s;
  };
  const L layers[] = {{64, 3, 1}, {64, 4, 2}, {128, 3, 1}, {128, 4, 2}, {256, 3, 1}, {256, 4, 2}, {512, 3, 1}};
  int64_t in = o.image_channels;
  for (const L& l : layers) {
    const int64_t out = scaled(l.out, o.width);
    d->add(maybe_sn(std::make_shared<Conv2d>(in, out, l.k, l.s, 1, true, o.dtype), o.spectral_norm));
    d->add(std::make_shared<LeakyReLU>(0.1));
    in = out;
  }
  const int64_t base = o.image_size / 8;
  d->add(std::make_shared<Flatten>());
  d->add(maybe_sn(std::make_shared<Linear>(in * base * base, o.logits, true, o.dtype), o.spectral_norm));
  return d;
}

}  // namespace odegan::nn::models
