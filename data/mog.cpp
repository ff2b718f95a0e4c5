#include "data/mog.h"

#include <cmath>

#include "kernels/elementwise.h"

namespace odegan::data {

const std::vector<std::array<double, 2>>& MixtureOfGaussians::modes() {
  static const std::vector<std::array<double, 2>> m = {
      {1.5, 1.5},  {1.5, 0.5},  {1.5, -0.5},  {1.5, -1.5},  {0.5, 1.5},  {0.5, 0.5},  {0.5, -0.5},  {0.5, -1.5},
      {-1.5, 1.5}, {-1.5, 0.5}, {-1.5, -0.5}, {-1.5, -1.5}, {-0.5, 1.5}, {-0.5, 0.5}, {-0.5, -0.5}, {-0.5, -1.5}};
  return m;
}

Tensor MixtureOfGaussians::sample(int64_t batch, Generator& gen, DType dtype, Device device) {
  ODEGAN_CHECK(batch > 0, "MixtureOfGaussians::sample: batch must be positive, got ", batch);
  if (!means_.defined() || means_.shape()[0] != batch || means_.dtype() != dtype || means_.device() != device) {
    std::vector<double> m(static_cast<size_t>(batch * 2));
    for (int64_t i = 0; i < batch; ++i) {
      m[2 * i] = modes()[i % 16][0];
      m[2 * i + 1] = modes()[i % 16][1];
    }
    means_ = Tensor::from_doubles(m, {batch, 2}, dtype, device);
  }
  Tensor x = Tensor::empty({batch, 2}, dtype, device);
  fill_normal(x, gen, 0.0, std_);
  kernels::binary(kernels::Binary::add, x, means_, x);
  return x;
}

MogQuality mog_quality(const Tensor& samples, double std, double k, int min_per_mode) {
  ODEGAN_CHECK(samples.ndim() == 2 && samples.shape()[1] == 2, "mog_quality: samples must be (N, 2), got ",
               samples.shape().str());
  std::vector<double> v = samples.to_vector<double>();
  const auto& m = MixtureOfGaussians::modes();
  MogQuality q;
  q.per_mode.assign(m.size(), 0);
  const int64_t n = samples.shape()[0];
  int64_t hq = 0;
  for (int64_t i = 0; i < n; ++i) {
    double best = INFINITY;
    size_t arg = 0;
    for (size_t j = 0; j < m.size(); ++j) {
      double dx = v[2 * i] - m[j][0], dy = v[2 * i + 1] - m[j][1];
      double d = std::sqrt(dx * dx + dy * dy);
      if (d < best) best = d, arg = j;
    }
    if (best <= k * std) {
      ++hq;
      ++q.per_mode[arg];
    }
  }
  for (int c : q.per_mode) q.modes_covered += c >= min_per_mode ? 1 : 0;
  q.hq_fraction = n ? static_cast<double>(hq) / static_cast<double>(n) : 0.0;
  return q;
}

}  // namespace odegan::data
