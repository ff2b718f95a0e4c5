#include "layers/init.h"

#include <cmath>

namespace odegan::nn {

void init_weight(Tensor& w, int64_t fan_in, int64_t fan_out, Init init, Generator& gen) {
  ODEGAN_CHECK(fan_in > 0 && fan_out > 0, "init_weight: fans must be positive (", fan_in, ", ", fan_out, ")");
  switch (init) {
    case Init::reference:
      fill_truncated_normal(w, gen, 0.0, 1.0 / std::sqrt(double(fan_in)), -2.0, 2.0);
      break;
    case Init::dcgan:
      fill_normal(w, gen, 0.0, 0.02);
      break;
    case Init::kaiming_uniform: {
      // gain sqrt(2 / (1 + a^2)) with a = sqrt(5): bound = sqrt(6 / ((1 + 5) fan_in)) = 1 / sqrt(fan_in)
      double bound = 1.0 / std::sqrt(double(fan_in));
      fill_uniform(w, gen, -bound, bound);
      break;
    }
    case Init::xavier_uniform: {
      double bound = std::sqrt(6.0 / double(fan_in + fan_out));
      fill_uniform(w, gen, -bound, bound);
      break;
    }
  }
}

void init_bias(Tensor& b, int64_t fan_in, Init init, Generator& gen) {
  if (init == Init::kaiming_uniform) {
    double bound = 1.0 / std::sqrt(double(std::max<int64_t>(fan_in, 1)));
    fill_uniform(b, gen, -bound, bound);
  } else {
    b.zero_();
  }
}

}  // namespace odegan::nn
