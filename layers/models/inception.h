// Inception-v3 as FID and IS use it: the 2015-12-05 TensorFlow network in pytorch-fid's port
// (pytorch_fid/inception.py, fid_inception_v3): torchvision's Inception3 with the FID blocks
// (average pools that do not count padding, a max pool in the last block), batch norm in
// eval mode with eps 1e-3, the 2048-d pool3 features and the 1008-way logits. Module names
// are pytorch-fid's (Conv2d_1a_3x3, Mixed_5b.branch1x1, ...); batch-norm scale and shift are
// `gamma` and `beta` (scripts/convert_inception.py maps `weight` and `bias` to them).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "layers/layers.h"

namespace odegan::nn::models {

class InceptionV3 : public Module {
 public:
  explicit InceptionV3(DType dtype = DType::f32);  // in eval mode, zero weights
  std::string type_name() const override { return "InceptionV3"; }

  struct Outputs {
    Tensor pool3;   // (N, 2048), on the net's device
    Tensor logits;  // (N, 1008)
  };
  // images (N, C, H, W), C = 1 or 3, values in [0, 1] (pytorch-fid's convention), any size,
  // dtype and device: bilinear resize to 299x299 (as F.interpolate, align_corners=False),
  // x -> 2x - 1, grey repeated to 3 channels; then the network in eval mode, no graph.
  Outputs run(const Tensor& images);

  // The network on prepared input (N, 3, H, W) in [-1, 1] -> pool3 (N, 2048): the mean of
  // Mixed_7c over its positions. Differentiable; H, W >= 75.
  Var forward(const Var& x) override;
  // pool3 (N, 2048) -> logits (N, 1008).
  Var logits(const Var& pool3);

  static constexpr int64_t kFeatures = 2048, kClasses = 1008, kSize = 299;

 private:
  std::shared_ptr<Module> conv_1a_, conv_2a_, conv_2b_, conv_3b_, conv_4a_;
  std::shared_ptr<Module> mixed_[11];  // 5b 5c 5d 6a 6b 6c 6d 6e 7a 7b 7c
  std::shared_ptr<Linear> fc_;
};

// Weights written by scripts/convert_inception.py (float32 safetensors with our names),
// converted to `dtype` and moved to `device`. A missing file, a missing or unexpected
// tensor, a wrong shape or a dtype other than float32 is an odegan::Error naming the file
// and the tensor(s).
std::shared_ptr<InceptionV3> load_inception(const std::string& path, DType dtype = DType::f32,
                                            Device device = Device::cpu());

// Deterministic random weights from the Philox RNG (same on CPU and GPU), scaled so that
// activations stay O(1) through the whole depth: He-normal convolutions, batch norm with
// gamma ~ U(0.8, 1.2), beta and running_mean ~ U(-0.1, 0.1), running_var ~ U(0.5, 1.5), and
// fc ~ N(0, 1/2048), bias ~ U(-0.1, 0.1). For the parity test, benchmarks and other tests.
void randomize_inception(InceptionV3& net, uint64_t seed);

}  // namespace odegan::nn::models
