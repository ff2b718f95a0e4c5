// The FD-FMNIST feature network: the trained classifier of layers/models/classifier.h
// (odegan_classifier writes its weights) as a FeatureExtractor, giving its 128-d
// penultimate activations and its 10 class logits for 32x32 grey images in [-1, 1].
#pragma once
#include <memory>
#include <string>

#include "apps/common/quality.h"
#include "layers/models/classifier.h"

namespace odegan::app {

class ClassifierFeatures : public FeatureExtractor {
 public:
  // Loads the weights written by odegan_classifier; a missing file, a missing tensor or a
  // wrong shape is an error naming the file.
  ClassifierFeatures(const std::string& weights_file, Device device, int64_t batch = 500);
  std::string name() const override { return "fmnist-classifier"; }
  int64_t batch_size() const override { return batch_; }
  void extract(const Tensor& images, Tensor& features, Tensor& logits) override;
  nn::models::Classifier& model() { return *model_; }

 private:
  std::shared_ptr<nn::models::Classifier> model_;
  Device device_;
  int64_t batch_;
};

}  // namespace odegan::app
