// Inception-v3 (pytorch-fid's FID network, layers/models/inception.h) as the quality
// pipeline's feature extractor: pool3 features (2048) for FID, the 1008 logits for IS.
#pragma once
#include <memory>

#include "apps/common/quality.h"
#include "layers/models/inception.h"

namespace odegan::app {

class InceptionFeatures : public FeatureExtractor {
 public:
  InceptionFeatures(std::shared_ptr<nn::models::InceptionV3> net, int64_t batch);
  std::string name() const override { return "inception-pool3"; }
  int64_t batch_size() const override { return batch_; }
  // images in [-1, 1] -> [0, 1] (the network's input range; it resizes to 299 itself).
  void extract(const Tensor& images, Tensor& features, Tensor& logits) override;

 private:
  std::shared_ptr<nn::models::InceptionV3> net_;
  int64_t batch_;
};

}  // namespace odegan::app
