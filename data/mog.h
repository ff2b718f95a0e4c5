// The paper's mixture of Gaussians: 16 modes on the grid {-1.5, -0.5, 0.5, 1.5}^2 with
// standard deviation 0.02, sampled in stratified batches (row i from mode i mod 16, in the
// reference notebook's order), and the quality metrics used for it in the literature.
#pragma once
#include <array>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace odegan::data {

class MixtureOfGaussians {
 public:
  explicit MixtureOfGaussians(double std = 0.02) : std_(std) {}
  // The 16 means in the reference notebook's order.
  static const std::vector<std::array<double, 2>>& modes();
  double std() const { return std_; }
  // (batch, 2): row i = modes()[i % 16] + std * N(0, I), drawn with `gen` on `device`.
  Tensor sample(int64_t batch, Generator& gen, DType dtype = DType::f32, Device device = Device::cpu());

 private:
  double std_;
  Tensor means_;  // cached tiled means for the last (batch, dtype, device)
};

// Quality of generated samples (as in VEEGAN / PacGAN): a sample is high quality when it
// lies within `k` standard deviations of its nearest mode; a mode is covered when at
// least `min_per_mode` high-quality samples are nearest to it.
struct MogQuality {
  int modes_covered = 0;
  double hq_fraction = 0;
  std::vector<int> per_mode;  // high-quality samples per mode
};
MogQuality mog_quality(const Tensor& samples, double std = 0.02, double k = 3.0, int min_per_mode = 1);

}  // namespace odegan::data
