#include "apps/common/inception_features.h"

#include <filesystem>

#include "kernels/elementwise.h"

namespace odegan::app {

std::shared_ptr<nn::models::InceptionV3> open_inception(const std::string& file, Device device) {
  ODEGAN_CHECK(!file.empty(),
               "--inception FILE is required: pytorch-fid's pt_inception-2015-12-05-6726825d.pth converted by "
               "scripts/convert_inception.py (see docs/reproducing.md)");
  ODEGAN_CHECK(std::filesystem::is_regular_file(file), "--inception ", file, ": no such file");
  return nn::models::load_inception(file, DType::f32, device);
}

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
