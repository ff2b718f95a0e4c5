#include "apps/common/inception_features.h"

#include "kernels/elementwise.h"

namespace odegan::app {

InceptionFeatures::InceptionFeatures(std::shared_ptr<nn::models::InceptionV3> net, int64_t batch)
    : net_(std::move(net)), batch_(batch) {
  ODEGAN_CHECK(net_, "InceptionFeatures: no network");
  ODEGAN_CHECK(batch_ >= 1, "--batch must be >= 1, got ", batch_);
}

void InceptionFeatures::extract(const Tensor& images, Tensor& features, Tensor& logits) {
  const Tensor unit = kernels::unary(kernels::Unary::affine, images.to(net_->device()), 0.5, 0.5);
  nn::models::InceptionV3::Outputs out = net_->run(unit);
  features = out.pool3;
  logits = out.logits;
}

}  // namespace odegan::app
