// Counter-based random numbers (Philox 4x32-10). A Generator is two integers, a seed and
// a counter offset; every fill consumes counters, so the same (seed, offset) gives
// bitwise the same numbers on the CPU and on any GPU. The state is what checkpoints store.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace odegan {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed, offset_ = offset; }
  // Reserves `counters` Philox counters and returns the first.
  uint64_t advance(uint64_t counters) {
    uint64_t start = offset_;
    offset_ += counters;
    return start;
  }

  // Host-side draws (one counter each): for shuffles, labels, stratification.
  uint32_t next_u32();
  double next_uniform();                      // [0, 1), 53 bits
  uint64_t next_below(uint64_t n);            // uniform integer in [0, n)

 private:
  uint64_t seed_;
  uint64_t offset_;
};

// Fill a float tensor (CPU or CUDA) in place.
void fill_uniform(Tensor& t, Generator& gen, double low = 0.0, double high = 1.0);
void fill_normal(Tensor& t, Generator& gen, double mean = 0.0, double std = 1.0);
// Normal(mean, std) truncated to [mean + a*std, mean + b*std] by inverse-CDF sampling
// (as JAX/Haiku do for their default initialiser); a < b in units of std.
void fill_truncated_normal(Tensor& t, Generator& gen, double mean, double std, double a = -2.0,
                           double b = 2.0);

// Counters a fill of n elements consumes (uniform float32: 4 per counter; uniform float64,
// normal and truncated normal: 2 per counter).
uint64_t counters_for_uniform(int64_t n, DType dtype);
uint64_t counters_for_normal(int64_t n);

}  // namespace odegan
