#include "core/rng.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/philox.h"

#ifdef ODEGAN_WITH_CUDA
#include "core/cuda/rng_cuda.h"
#endif

namespace odegan {

uint32_t Generator::next_u32() { return philox::philox4x32_10(advance(1), seed_).x; }

double Generator::next_uniform() {
  philox::U4 r = philox::philox4x32_10(advance(1), seed_);
  return philox::uniform53(r.x, r.y);
}

uint64_t Generator::next_below(uint64_t n) {
  ODEGAN_CHECK(n > 0, "Generator::next_below(0)");
  // Rejection sampling on 64 random bits: exactly uniform.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    philox::U4 r = philox::philox4x32_10(advance(1), seed_);
    uint64_t bits = (static_cast<uint64_t>(r.x) << 32) | r.y;
    if (bits < limit) return bits % n;
  }
}

uint64_t counters_for_uniform(int64_t n, DType dtype) {
  int64_t per = dtype == DType::f32 ? 4 : 2;
  return static_cast<uint64_t>((n + per - 1) / per);
}
uint64_t counters_for_normal(int64_t n) { return static_cast<uint64_t>((n + 1) / 2); }

namespace {

// Normals in blocks of 16 counters, one transform at a time over the block: the same
// arithmetic as philox::generate (same bits), in loops the compiler can vectorise.
template <class T>
void normal_block(T* out, int64_t n, const philox::DistParams& prm, uint64_t seed, uint64_t first) {
  constexpr int B = 16;
  uint32_t w0[B], w1[B], w2[B], w3[B];
  double lg[B], u2[B], sn[B], cs[B];
  const int count = static_cast<int>(std::min<int64_t>(B, (n + 1) / 2));
  for (int c = 0; c < count; ++c) {
    philox::U4 r = philox::philox4x32_10(first + static_cast<uint64_t>(c), seed);
    w0[c] = r.x, w1[c] = r.y, w2[c] = r.z, w3[c] = r.w;
  }
  for (int c = 0; c < count; ++c) lg[c] = philox::log_unit(philox::sub(1.0, philox::uniform53(w0[c], w1[c])));
  for (int c = 0; c < count; ++c) u2[c] = philox::uniform53(w2[c], w3[c]);
  for (int c = 0; c < count; ++c) philox::sincos_2pi(u2[c], &sn[c], &cs[c]);
  T pair[2 * B];
  for (int c = 0; c < count; ++c) {
    const double rad = philox::sqrt_rn(philox::mul(-2.0, lg[c]));
    pair[2 * c] = static_cast<T>(philox::add(prm.p[0], philox::mul(prm.p[1], philox::mul(rad, cs[c]))));
    pair[2 * c + 1] = static_cast<T>(philox::add(prm.p[0], philox::mul(prm.p[1], philox::mul(rad, sn[c]))));
  }
  std::memcpy(out, pair, sizeof(T) * static_cast<size_t>(std::min<int64_t>(n, 2 * count)));
}

template <class T>
void fill_host(T* out, int64_t n, philox::Dist dist, const philox::DistParams& prm, uint64_t seed,
               uint64_t first) {
  if (dist == philox::Dist::normal) {
    for (int64_t c0 = 0; 2 * c0 < n; c0 += 16)
      normal_block(out + 2 * c0, n - 2 * c0, prm, seed, first + static_cast<uint64_t>(c0));
    return;
  }
  const int per = philox::values_per_counter<T>(dist);
  int64_t counters = (n + per - 1) / per;
  for (int64_t c = 0; c < counters; ++c) {
    T v[4] = {};
    philox::generate<T>(dist, prm, seed, first + static_cast<uint64_t>(c), v);
    for (int j = 0; j < per; ++j) {
      int64_t i = c * per + j;
      if (i < n) out[i] = v[j];
    }
  }
}

void random_fill(Tensor& t, Generator& gen, philox::Dist dist, const philox::DistParams& prm, const char* op) {
  check_defined(t, op, "tensor");
  ODEGAN_CHECK(is_floating(t.dtype()), op, ": needs a float tensor, got ", describe(t));
  int64_t n = t.numel();
  uint64_t counters = dist == philox::Dist::uniform ? counters_for_uniform(n, t.dtype()) : counters_for_normal(n);
  uint64_t first = gen.advance(counters);
  if (t.device().is_cpu()) {
    if (t.dtype() == DType::f32)
      fill_host(t.data<float>(), n, dist, prm, gen.seed(), first);
    else
      fill_host(t.data<double>(), n, dist, prm, gen.seed(), first);
  } else {
#ifdef ODEGAN_WITH_CUDA
    cuda_impl::random_fill(t, dist, prm, gen.seed(), first);
#else
    ODEGAN_FAIL(op, ": tensor on CUDA but this build has no CUDA support");
#endif
  }
}

}  // namespace

void fill_uniform(Tensor& t, Generator& gen, double low, double high) {
  ODEGAN_CHECK(low <= high, "fill_uniform: low ", low, " > high ", high);
  random_fill(t, gen, philox::Dist::uniform, {{low, high - low, 0, 0, 0, 0}}, "fill_uniform");
}

void fill_normal(Tensor& t, Generator& gen, double mean, double std) {
  ODEGAN_CHECK(std >= 0, "fill_normal: negative std ", std);
  random_fill(t, gen, philox::Dist::normal, {{mean, std, 0, 0, 0, 0}}, "fill_normal");
}

void fill_truncated_normal(Tensor& t, Generator& gen, double mean, double std, double a, double b) {
  ODEGAN_CHECK(a < b, "fill_truncated_normal: limits a=", a, " b=", b, " need a < b");
  ODEGAN_CHECK(std >= 0, "fill_truncated_normal: negative std ", std);
  const double r2 = 1.4142135623730951;
  random_fill(t, gen, philox::Dist::truncated_normal, {{mean, std, std::erf(a / r2), std::erf(b / r2), a, b}},
              "fill_truncated_normal");
}

}  // namespace odegan
