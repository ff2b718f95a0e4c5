// The arithmetic of each elementwise op, written once and compiled for both the CPU
// loops (kernels/cpu) and the CUDA kernels (kernels/cuda).
#pragma once
#include <cmath>

#include "core/philox.h"  // ODEGAN_HD
#include "kernels/elementwise.h"

namespace odegan::kernels::ops {

// Precision-matched math: float calls the float C functions (expf, ...) on host and
// device alike; double calls the double ones.
#define ODEGAN_MATH1(NAME)                                    \
  ODEGAN_HD float m_##NAME(float x) { return ::NAME##f(x); }  \
  ODEGAN_HD double m_##NAME(double x) { return ::NAME(x); }
ODEGAN_MATH1(exp)
ODEGAN_MATH1(log)
ODEGAN_MATH1(log1p)
ODEGAN_MATH1(sqrt)
ODEGAN_MATH1(tanh)
#undef ODEGAN_MATH1
ODEGAN_HD float m_pow(float x, float y) { return ::powf(x, y); }
ODEGAN_HD double m_pow(double x, double y) { return ::pow(x, y); }

template <class T>
ODEGAN_HD T softplus(T x) {
  // max(x, 0) + log1p(exp(-|x|)): no overflow for large |x|, exact tails.
  T ax = x < T(0) ? -x : x;
  return (x > T(0) ? x : T(0)) + m_log1p(m_exp(-ax));
}

template <class T>
ODEGAN_HD T sigmoid(T x) {
  // Never evaluates exp of a large positive number.
  if (x >= T(0)) return T(1) / (T(1) + m_exp(-x));
  T e = m_exp(x);
  return e / (T(1) + e);
}

template <Unary OP, class T>
ODEGAN_HD T unary(T x, T a, T b) {
  if constexpr (OP == Unary::neg) return -x;
  if constexpr (OP == Unary::exp) return m_exp(x);
  if constexpr (OP == Unary::log) return m_log(x);
  if constexpr (OP == Unary::sqrt) return m_sqrt(x);
  if constexpr (OP == Unary::rsqrt) return T(1) / m_sqrt(x);
  if constexpr (OP == Unary::abs) return x < T(0) ? -x : x;
  if constexpr (OP == Unary::square) return x * x;
  if constexpr (OP == Unary::reciprocal) return T(1) / x;
  if constexpr (OP == Unary::relu) return x > T(0) ? x : T(0);
  if constexpr (OP == Unary::leaky_relu) return x > T(0) ? x : a * x;
  if constexpr (OP == Unary::tanh) return m_tanh(x);
  if constexpr (OP == Unary::sigmoid) return sigmoid(x);
  if constexpr (OP == Unary::softplus) return softplus(x);
  if constexpr (OP == Unary::log_sigmoid) return -softplus(-x);
  if constexpr (OP == Unary::silu) return x * sigmoid(x);
  if constexpr (OP == Unary::step) return x > T(0) ? T(1) : T(0);
  if constexpr (OP == Unary::leaky_step) return x > T(0) ? T(1) : a;
  if constexpr (OP == Unary::sign) return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
  if constexpr (OP == Unary::affine) return a * x + b;
  if constexpr (OP == Unary::pow) return m_pow(x, a);
}

template <Binary OP, class T>
ODEGAN_HD T binary(T x, T y, T a) {
  if constexpr (OP == Binary::add) return x + y;
  if constexpr (OP == Binary::sub) return x - y;
  if constexpr (OP == Binary::mul) return x * y;
  if constexpr (OP == Binary::div) return x / y;
  if constexpr (OP == Binary::maximum) return x > y ? x : y;
  if constexpr (OP == Binary::minimum) return x < y ? x : y;
  if constexpr (OP == Binary::relu_backward) return y > T(0) ? x : T(0);
  if constexpr (OP == Binary::leaky_relu_backward) return y > T(0) ? x : a * x;
  if constexpr (OP == Binary::tanh_backward) return x * (T(1) - y * y);
  if constexpr (OP == Binary::sigmoid_backward) return x * y * (T(1) - y);
  if constexpr (OP == Binary::silu_backward) {
    const T s = sigmoid(y);
    return x * s * (T(1) + y * (T(1) - s));
  }
}

// The switches that turn a runtime op into a template argument are generated from the op
// lists (ODEGAN_UNARY_OPS, ODEGAN_BINARY_OPS in kernels/elementwise.h).

}  // namespace odegan::kernels::ops
