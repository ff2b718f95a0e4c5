// Inception-v3 (pytorch-fid's FID network, layers/models/inception.h) as the quality
// pipeline's feature extractor: pool3 features (2048) for FID, the 1008 logits for IS.
#pragma once
#include <memory>
#include <string>

#include "apps/common/quality.h"
#include "layers/models/inception.h"

namespace odegan::app {

// pytorch-fid's Inception weights (converted by scripts/convert_inception.py), in eval mode on
// `device`. Errors name the flag and the file: none given, no such file, and load_inception's
// missing / wrong-shape / wrong-dtype tensors.
std::shared_ptr<nn::models::InceptionV3> open_inception(const std::string& file, Device device);

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
