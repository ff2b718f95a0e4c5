// Philox 4x32-10 and the transforms that turn its bits into uniform and normal numbers.
// Compiled for host and device from this one header. Every floating-point operation is
// an explicitly rounded IEEE operation (no fused multiply-add, no library log/sin), so
// the CPU and a GPU produce bitwise-identical numbers for the same (seed, counter).
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define ODEGAN_HD __host__ __device__ __forceinline__
#else
#define ODEGAN_HD inline
#endif

namespace odegan::philox {

struct U4 {
  uint32_t x, y, z, w;
};

ODEGAN_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Ten rounds of Philox4x32 on counter (c, 0) with key k: four independent 32-bit words.
ODEGAN_HD U4 philox4x32_10(uint64_t counter, uint64_t key) {
  U4 c{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u};
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c.x, &hi0);
    uint32_t lo1 = mulhilo(0xCD9E8D57u, c.z, &hi1);
    c = U4{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return c;
}

// Explicitly rounded double arithmetic (the device compiler would otherwise fuse a*b+c).
#if defined(__CUDA_ARCH__)
ODEGAN_HD double mul(double a, double b) { return __dmul_rn(a, b); }
ODEGAN_HD double add(double a, double b) { return __dadd_rn(a, b); }
ODEGAN_HD double sub(double a, double b) { return __dsub_rn(a, b); }
ODEGAN_HD double div(double a, double b) { return __ddiv_rn(a, b); }
ODEGAN_HD double sqrt_rn(double a) { return __dsqrt_rn(a); }
#else
// Host side: core/rng.cpp is compiled with -ffp-contract=off.
ODEGAN_HD double mul(double a, double b) { return a * b; }
ODEGAN_HD double add(double a, double b) { return a + b; }
ODEGAN_HD double sub(double a, double b) { return a - b; }
ODEGAN_HD double div(double a, double b) { return a / b; }
ODEGAN_HD double sqrt_rn(double a) { return __builtin_sqrt(a); }
#endif

// 24 random bits as a float-exact value in [0, 1).
ODEGAN_HD double uniform24(uint32_t u) { return static_cast<double>(u >> 8) * 5.9604644775390625e-08; }
// 53 random bits in [0, 1): a * 2^21 + (b >> 11), scaled. Built from 32-bit signed
// conversions only (exact), which vectorise on every x86-64 and give the same value as a
// 64-bit conversion would.
ODEGAN_HD double uniform53(uint32_t a, uint32_t b) {
  const double hi = add(static_cast<double>(static_cast<int32_t>(a ^ 0x80000000u)), 2147483648.0);
  const double lo = static_cast<double>(static_cast<int32_t>(b >> 11));
  return mul(add(mul(hi, 2097152.0), lo), 1.1102230246251565e-16);
}

// Natural log for x in (0, 1] (normal numbers), accurate to ~1 ulp: x = m * 2^e with the
// exponent read from the bits (exact), m in [sqrt(1/2), sqrt(2)), and
// log m = 2 atanh(s), s = (m - 1) / (m + 1), by its odd series (|s| < 0.1716).
ODEGAN_HD double log_unit(double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  // The exponent as an exact double: 2^52 + k minus 2^52 (no integer conversion needed).
  uint64_t ebits = uint64_t(0x4330000000000000) | ((bits >> 52) & 0x7ff);
  double e;
  memcpy(&e, &ebits, sizeof e);
  e = sub(sub(e, 4503599627370496.0), 1023.0);
  bits = (bits & ((uint64_t(1) << 52) - 1)) | (uint64_t(1023) << 52);
  memcpy(&x, &bits, sizeof x);  // now in [1, 2)
  const bool big = x > 1.4142135623730951;
  x = big ? mul(x, 0.5) : x;
  e = big ? add(e, 1.0) : e;
  double s = div(sub(x, 1.0), add(x, 1.0));
  double s2 = mul(s, s);
  double p = 1.0 / 21.0;
  p = add(mul(p, s2), 1.0 / 19.0);
  p = add(mul(p, s2), 1.0 / 17.0);
  p = add(mul(p, s2), 1.0 / 15.0);
  p = add(mul(p, s2), 1.0 / 13.0);
  p = add(mul(p, s2), 1.0 / 11.0);
  p = add(mul(p, s2), 1.0 / 9.0);
  p = add(mul(p, s2), 1.0 / 7.0);
  p = add(mul(p, s2), 1.0 / 5.0);
  p = add(mul(p, s2), 1.0 / 3.0);
  p = add(mul(p, s2), 1.0);
  double logm = mul(mul(2.0, s), p);
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  return add(mul(e, ln2_hi), add(mul(e, ln2_lo), logm));
}

// sin and cos of 2*pi*u for u in [0, 1): the quadrant comes from 4u (exact), the rest is
// folded to an angle x in [0, pi/4] where Taylor series through x^17 / x^18 are exact to
// well below double rounding.
ODEGAN_HD void sincos_2pi(double u, double* s_out, double* c_out) {
  double t = mul(u, 4.0);
  int q = static_cast<int>(t);
  double f = sub(t, static_cast<double>(q));
  bool swap = f > 0.5;
  double x = mul(swap ? sub(1.0, f) : f, 1.5707963267948966);
  double y = mul(x, x);
  double ps = 1.0 / 355687428096000.0;         // +1/17!
  ps = add(mul(ps, y), -1.0 / 1307674368000.0);  // -1/15!
  ps = add(mul(ps, y), 1.0 / 6227020800.0);      // +1/13!
  ps = add(mul(ps, y), -1.0 / 39916800.0);       // -1/11!
  ps = add(mul(ps, y), 1.0 / 362880.0);          // +1/9!
  ps = add(mul(ps, y), -1.0 / 5040.0);           // -1/7!
  ps = add(mul(ps, y), 1.0 / 120.0);             // +1/5!
  ps = add(mul(ps, y), -1.0 / 6.0);              // -1/3!
  ps = add(mul(ps, y), 1.0);
  double sx = mul(x, ps);
  double pc = -1.0 / 6402373705728000.0;        // -1/18!
  pc = add(mul(pc, y), 1.0 / 20922789888000.0);  // +1/16!
  pc = add(mul(pc, y), -1.0 / 87178291200.0);    // -1/14!
  pc = add(mul(pc, y), 1.0 / 479001600.0);       // +1/12!
  pc = add(mul(pc, y), -1.0 / 3628800.0);        // -1/10!
  pc = add(mul(pc, y), 1.0 / 40320.0);           // +1/8!
  pc = add(mul(pc, y), -1.0 / 720.0);            // -1/6!
  pc = add(mul(pc, y), 1.0 / 24.0);              // +1/4!
  pc = add(mul(pc, y), -0.5);                    // -1/2!
  pc = add(mul(pc, y), 1.0);
  double cx = pc;
  // sin/cos of f*pi/2:
  double sf = swap ? cx : sx, cf = swap ? sx : cx;
  // Quadrants 1 and 3 rotate by pi/2, quadrants 2 and 3 negate (branch-free selects).
  const bool odd = (q & 1) != 0, neg = (q & 2) != 0;
  double so = odd ? cf : sf, co = odd ? -sf : cf;
  *s_out = neg ? -so : so;
  *c_out = neg ? -co : co;
}

// Two independent standard normals from four Philox words (Box-Muller, u1 in (0, 1]).
ODEGAN_HD void normal_pair(U4 r, double* z0, double* z1) {
  double u1 = sub(1.0, uniform53(r.x, r.y));
  double u2 = uniform53(r.z, r.w);
  double rad = sqrt_rn(mul(-2.0, log_unit(u1)));
  double s, c;
  sincos_2pi(u2, &s, &c);
  *z0 = mul(rad, c);
  *z1 = mul(rad, s);
}

// Inverse error function on (-1, 1) (M. Giles, "Approximating the erfinv function",
// 2010; ~1e-7 relative accuracy), used for truncated-normal initialisation.
ODEGAN_HD double erfinv(double x) {
  double w = -log_unit(mul(sub(1.0, x), add(1.0, x)));
  double p;
  if (w < 5.0) {
    w = sub(w, 2.5);
    p = 2.81022636e-08;
    p = add(3.43273939e-07, mul(p, w));
    p = add(-3.5233877e-06, mul(p, w));
    p = add(-4.39150654e-06, mul(p, w));
    p = add(0.00021858087, mul(p, w));
    p = add(-0.00125372503, mul(p, w));
    p = add(-0.00417768164, mul(p, w));
    p = add(0.246640727, mul(p, w));
    p = add(1.50140941, mul(p, w));
  } else {
    w = sub(sqrt_rn(w), 3.0);
    p = -0.000200214257;
    p = add(0.000100950558, mul(p, w));
    p = add(0.00134934322, mul(p, w));
    p = add(-0.00367342844, mul(p, w));
    p = add(0.00573950773, mul(p, w));
    p = add(-0.0076224613, mul(p, w));
    p = add(0.00943887047, mul(p, w));
    p = add(1.00167406, mul(p, w));
    p = add(2.83297682, mul(p, w));
  }
  return mul(p, x);
}

// ---- what one counter produces, shared verbatim by the CPU loop and the CUDA kernel
enum class Dist : int { uniform, normal, truncated_normal };

// uniform: p[0] = low, p[1] = high - low.  normal: p[0] = mean, p[1] = std.
// truncated_normal: p[0] = mean, p[1] = std, p[2] = erf(a/sqrt2), p[3] = erf(b/sqrt2),
// p[4] = a, p[5] = b (limits in std units, used to clamp approximation overshoot).
struct DistParams {
  double p[6];
};

template <class T>
ODEGAN_HD int values_per_counter(Dist d) {
  return (d == Dist::uniform && sizeof(T) == 4) ? 4 : 2;
}

template <class T>
ODEGAN_HD void generate(Dist d, const DistParams& prm, uint64_t seed, uint64_t counter, T out[4]) {
  U4 r = philox4x32_10(counter, seed);
  if (d == Dist::uniform) {
    if (sizeof(T) == 4) {
      uint32_t w[4] = {r.x, r.y, r.z, r.w};
      for (int i = 0; i < 4; ++i) out[i] = static_cast<T>(add(prm.p[0], mul(prm.p[1], uniform24(w[i]))));
    } else {
      out[0] = static_cast<T>(add(prm.p[0], mul(prm.p[1], uniform53(r.x, r.y))));
      out[1] = static_cast<T>(add(prm.p[0], mul(prm.p[1], uniform53(r.z, r.w))));
    }
  } else if (d == Dist::normal) {
    double z0, z1;
    normal_pair(r, &z0, &z1);
    out[0] = static_cast<T>(add(prm.p[0], mul(prm.p[1], z0)));
    out[1] = static_cast<T>(add(prm.p[0], mul(prm.p[1], z1)));
  } else {
    double u[2] = {uniform53(r.x, r.y), uniform53(r.z, r.w)};
    for (int i = 0; i < 2; ++i) {
      double z = add(prm.p[2], mul(sub(prm.p[3], prm.p[2]), u[i]));
      double x = mul(1.4142135623730951, erfinv(z));
      x = x < prm.p[4] ? prm.p[4] : (x > prm.p[5] ? prm.p[5] : x);
      out[i] = static_cast<T>(add(prm.p[0], mul(prm.p[1], x)));
    }
  }
}

}  // namespace odegan::philox
