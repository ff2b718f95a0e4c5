#include "apps/common/classifier_features.h"

#include <filesystem>

#include "autodiff/var.h"

namespace odegan::app {

ClassifierFeatures::ClassifierFeatures(const std::string& weights_file, Device device, int64_t batch)
    : model_(std::make_shared<nn::models::Classifier>()), device_(device), batch_(batch) {
  ODEGAN_CHECK(batch > 0, "ClassifierFeatures: batch must be > 0, got ", batch);
  ODEGAN_CHECK(std::filesystem::is_regular_file(weights_file), "classifier weights '", weights_file,
               "' do not exist (train them with odegan_classifier --out FILE)");
  try {
    model_->load(weights_file);
  } catch (const Error& e) {
    ODEGAN_FAIL("classifier weights '", weights_file, "': ", e.what());
  }
  model_->to(device);
  model_->eval();
}

void ClassifierFeatures::extract(const Tensor& images, Tensor& features, Tensor& logits) {
  const auto& o = model_->options();
  ODEGAN_CHECK(images.ndim() == 4 && images.shape()[1] == o.image_channels && images.shape()[2] == o.image_size &&
                   images.shape()[3] == o.image_size,
               "the FD-FMNIST classifier takes (N, ", o.image_channels, ", ", o.image_size, ", ", o.image_size,
               ") images in [-1, 1], got ", describe(images));
  ad::NoGradGuard no_grad;
  ad::Var f = model_->features(ad::Var(images.to(device_).to(model_->dtype())));
  logits = model_->logits(f).data();
  features = f.data();
}

}  // namespace odegan::app
