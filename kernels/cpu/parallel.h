// Splitting CPU loops across cores (OpenMP when available). Small loops stay serial:
// waking threads costs more than a few thousand elements of arithmetic.
#pragma once
#include <cstdint>

namespace odegan::kernels::cpu {

constexpr int64_t kParallelGrain = 1 << 15;

// Calls f(begin, end) over [0, n) in chunks; parallel only when n >= grain.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
#if defined(_OPENMP)
  if (n >= grain && grain > 0) {
    int64_t chunks = (n + grain - 1) / grain;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t b = c * grain, e = b + grain < n ? b + grain : n;
      f(b, e);
    }
    return;
  }
#endif
  if (n > 0) f(int64_t(0), n);
}

}  // namespace odegan::kernels::cpu
