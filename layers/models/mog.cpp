#include "layers/models/mog.h"

namespace odegan::nn::models {

namespace {
std::shared_ptr<Sequential> mlp(int64_t in, int64_t hidden, int depth, int64_t out, DType dtype) {
  auto net = std::make_shared<Sequential>();
  int64_t width = in;
  for (int i = 0; i < depth; ++i) {
    net->add(std::make_shared<Linear>(width, hidden, true, dtype));
    net->add(std::make_shared<ReLU>());
    width = hidden;
  }
  net->add(std::make_shared<Linear>(width, out, true, dtype));
  return net;
}
}  // namespace

std::shared_ptr<Sequential> mog_generator(int64_t latent, int64_t hidden, int depth, DType dtype) {
  return mlp(latent, hidden, depth, 2, dtype);
}

std::shared_ptr<Sequential> mog_discriminator(int64_t hidden, int depth, DType dtype) {
  return mlp(2, hidden, depth, 1, dtype);
}

}  // namespace odegan::nn::models
