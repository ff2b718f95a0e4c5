// Elementwise kernels against scalar references written independently here (long
// double std:: math, naive broadcasting by index arithmetic), in float32 and float64,
// and the CUDA kernels against their CPU twins.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>

#include "kernels/elementwise.h"
#include "tests/common/test_util.h"

namespace odegan::kernels {
namespace {

using testing::kFloatTypes;
using testing::random_tensor;

using Ref1 = std::function<long double(long double, long double, long double)>;

struct UnaryCase {
  Unary op;
  Ref1 ref;
  double lo, hi;  // input range
  double a = 0, b = 0;
};

std::vector<UnaryCase> unary_cases() {
  using L = long double;
  return {
      {Unary::neg, [](L x, L, L) { return -x; }, -3, 3},
      {Unary::exp, [](L x, L, L) { return std::exp(x); }, -5, 5},
      {Unary::log, [](L x, L, L) { return std::log(x); }, 0.01, 10},
      {Unary::sqrt, [](L x, L, L) { return std::sqrt(x); }, 0, 10},
      {Unary::rsqrt, [](L x, L, L) { return 1 / std::sqrt(x); }, 0.01, 10},
      {Unary::abs, [](L x, L, L) { return std::fabs(x); }, -3, 3},
      {Unary::square, [](L x, L, L) { return x * x; }, -3, 3},
      {Unary::reciprocal, [](L x, L, L) { return 1 / x; }, 0.1, 3},
      {Unary::relu, [](L x, L, L) { return x > 0 ? x : 0; }, -3, 3},
      {Unary::leaky_relu, [](L x, L a, L) { return x > 0 ? x : a * x; }, -3, 3, 0.1},
      {Unary::tanh, [](L x, L, L) { return std::tanh(x); }, -4, 4},
      {Unary::sigmoid, [](L x, L, L) { return 1 / (1 + std::exp(-x)); }, -30, 30},
      {Unary::softplus, [](L x, L, L) { return std::log1p(std::exp(x)); }, -30, 30},
      {Unary::log_sigmoid, [](L x, L, L) { return -std::log1p(std::exp(-x)); }, -30, 30},
      {Unary::silu, [](L x, L, L) { return x / (1 + std::exp(-x)); }, -20, 20},
      {Unary::step, [](L x, L, L) { return x > 0 ? 1 : 0; }, -3, 3},
      {Unary::leaky_step, [](L x, L a, L) { return x > 0 ? 1 : a; }, -3, 3, 0.2},
      {Unary::sign, [](L x, L, L) { return x > 0 ? 1 : (x < 0 ? -1 : 0); }, -3, 3},
      {Unary::affine, [](L x, L a, L b) { return a * x + b; }, -3, 3, 1.5, -0.25},
      {Unary::pow, [](L x, L a, L) { return std::pow(x, a); }, 0.1, 3, 2.5},
  };
}

// Relative-plus-absolute tolerance per dtype: float32 transcendental functions are
// accurate to a few ulp.
double rtol(DType t) { return t == DType::f64 ? 1e-13 : 4e-6; }
double atol(DType t) { return t == DType::f64 ? 1e-14 : 1e-6; }

Tensor reference_unary(const UnaryCase& c, const Tensor& x) {
  std::vector<double> v = x.to_vector<double>();
  for (double& e : v) e = static_cast<double>(c.ref(e, c.a, c.b));
  return Tensor::from_doubles(v, x.shape(), DType::f64);
}

TEST(Unary, MatchesScalarReference) {
  int seed = 1;
  for (DType dt : kFloatTypes)
    for (const UnaryCase& c : unary_cases())
      for (Shape s : {Shape{}, Shape{1}, Shape{7}, Shape{3, 5, 2}, Shape{1031}}) {
        SCOPED_TRACE(std::string(unary_name(c.op)) + " " + dtype_name(dt) + " " + s.str());
        Tensor x = random_tensor(s, dt, seed++, c.lo, c.hi);
        Tensor y = unary(c.op, x, c.a, c.b);
        EXPECT_EQ(y.dtype(), dt);
        EXPECT_TENSOR_NEAR(y, reference_unary(c, x.to(DType::f64)).to(dt), rtol(dt), atol(dt));
      }
}

TEST(Unary, InPlaceAliasing) {
  Tensor x = random_tensor({100}, DType::f32, 3);
  Tensor expect = unary(Unary::tanh, x);
  unary(Unary::tanh, x, x);
  EXPECT_TENSOR_NEAR(x, expect, 0, 0);
}

TEST(Unary, StableAtExtremes) {
  for (DType dt : kFloatTypes) {
    Tensor x = Tensor::from_doubles({-1000, -100, 0, 100, 1000}, {5}, dt);
    std::vector<double> sp = unary(Unary::softplus, x).to_vector<double>();
    std::vector<double> sg = unary(Unary::sigmoid, x).to_vector<double>();
    std::vector<double> ls = unary(Unary::log_sigmoid, x).to_vector<double>();
    for (int i = 0; i < 5; ++i) {
      EXPECT_TRUE(std::isfinite(sp[i]) && std::isfinite(sg[i]) && std::isfinite(ls[i])) << i;
    }
    EXPECT_EQ(sp[0], 0.0);
    EXPECT_NEAR(sp[2], std::log(2.0), 1e-7);
    EXPECT_EQ(sp[4], 1000.0);
    EXPECT_EQ(sg[0], 0.0);
    EXPECT_EQ(sg[4], 1.0);
    EXPECT_EQ(ls[0], -1000.0);
    EXPECT_EQ(ls[4], 0.0);
  }
}

TEST(Unary, RejectsMismatchedOutput) {
  Tensor x = Tensor::zeros({3, 4});
  Tensor bad_shape = Tensor::empty({4, 3});
  Tensor bad_dtype = Tensor::empty({3, 4}, DType::f64);
  EXPECT_THROW(unary(Unary::exp, x, bad_shape), Error);
  EXPECT_THROW(unary(Unary::exp, x, bad_dtype), Error);
  EXPECT_THROW(unary(Unary::exp, Tensor()), Error);
}

// ---------------------------------------------------------------- binary

using Ref2 = std::function<long double(long double, long double, long double)>;

struct BinaryCase {
  Binary op;
  Ref2 ref;
  double a = 0;
  bool positive_y = false;  // keep y away from zero (division)
};

std::vector<BinaryCase> binary_cases() {
  using L = long double;
  return {
      {Binary::add, [](L x, L y, L) { return x + y; }},
      {Binary::sub, [](L x, L y, L) { return x - y; }},
      {Binary::mul, [](L x, L y, L) { return x * y; }},
      {Binary::div, [](L x, L y, L) { return x / y; }, 0, true},
      {Binary::maximum, [](L x, L y, L) { return std::max(x, y); }},
      {Binary::minimum, [](L x, L y, L) { return std::min(x, y); }},
      {Binary::relu_backward, [](L x, L y, L) { return y > 0 ? x : 0; }},
      {Binary::leaky_relu_backward, [](L x, L y, L a) { return y > 0 ? x : a * x; }, 0.1},
      {Binary::tanh_backward, [](L x, L y, L) { return x * (1 - y * y); }},
      {Binary::sigmoid_backward, [](L x, L y, L) { return x * y * (1 - y); }},
      {Binary::silu_backward,
       [](L x, L y, L) {
         L s = 1 / (1 + std::exp(-y));
         return x * s * (1 + y * (1 - s));
       }},
  };
}

// Naive NumPy broadcasting by per-element index arithmetic.
Tensor reference_binary(const BinaryCase& c, const Tensor& x, const Tensor& y, const Shape& out) {
  std::vector<double> vx = x.to_vector<double>(), vy = y.to_vector<double>();
  std::vector<double> r(static_cast<size_t>(out.numel()));
  int n = out.ndim();
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> idx(n);
    int64_t rem = i;
    for (int d = n - 1; d >= 0; --d) {
      idx[d] = rem % out[d];
      rem /= out[d];
    }
    auto flat = [&](const Shape& s) {
      int64_t f = 0;
      for (int d = 0; d < s.ndim(); ++d) {
        int64_t k = idx[n - s.ndim() + d];
        f = f * s[d] + (s[d] == 1 ? 0 : k);
      }
      return f;
    };
    r[i] = static_cast<double>(c.ref(vx[flat(x.shape())], vy[flat(y.shape())], c.a));
  }
  return Tensor::from_doubles(r, out, DType::f64);
}

const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{}, {}},           {{5}, {5}},           {{2, 3}, {}},        {{}, {2, 3}},
    {{4, 3}, {3}},      {{4, 3}, {4, 1}},     {{3, 1, 5}, {4, 1}}, {{5, 1, 7}, {1, 6, 1}},
    {{2, 3, 4, 5}, {1, 3, 1, 1}}, {{1}, {2, 3}}, {{2, 1, 3}, {2, 4, 3}}, {{0, 3}, {3}},
    {{7, 1}, {1, 9}},   {{2, 3, 1, 5}, {3, 4, 1}},
};

// The op lists of kernels/elementwise.h are the one source of the enums; a new op without
// a reference row here fails, naming it.
TEST(Elementwise, EveryOpHasAReferenceRow) {
  std::set<int> unary_rows, binary_rows;
  for (const UnaryCase& c : unary_cases()) unary_rows.insert(static_cast<int>(c.op));
  for (const BinaryCase& c : binary_cases()) binary_rows.insert(static_cast<int>(c.op));
  for (int i = 0; i < kNumUnary; ++i)
    EXPECT_TRUE(unary_rows.count(i)) << "Unary::" << unary_name(static_cast<Unary>(i)) << " ("
                                     << unary_formula(static_cast<Unary>(i)) << ") has no row in unary_cases()";
  for (int i = 0; i < kNumBinary; ++i)
    EXPECT_TRUE(binary_rows.count(i)) << "Binary::" << binary_name(static_cast<Binary>(i)) << " ("
                                      << binary_formula(static_cast<Binary>(i)) << ") has no row in binary_cases()";
  EXPECT_EQ(std::string(unary_name(Unary::silu)), "silu");
  EXPECT_EQ(std::string(binary_formula(Binary::add)), "x + y");
}

TEST(Binary, MatchesNaiveBroadcastingReference) {
  int seed = 100;
  for (DType dt : kFloatTypes)
    for (const BinaryCase& c : binary_cases())
      for (const auto& [sx, sy] : kBroadcastPairs) {
        SCOPED_TRACE(std::string(binary_name(c.op)) + " " + dtype_name(dt) + " " + sx.str() + " " + sy.str());
        Tensor x = random_tensor(sx, dt, seed++);
        Tensor y = c.positive_y ? random_tensor(sy, dt, seed++, 0.5, 2.0) : random_tensor(sy, dt, seed++);
        Tensor z = binary(c.op, x, y, c.a);
        Shape out = broadcast_shapes(sx, sy);
        ASSERT_EQ(z.shape(), out);
        EXPECT_TENSOR_NEAR(z, reference_binary(c, x, y, out).to(dt), rtol(dt), atol(dt));
      }
}

TEST(Binary, IncompatibleShapesNameBoth) {
  Tensor x = Tensor::zeros({2, 3}), y = Tensor::zeros({4});
  try {
    binary(Binary::add, x, y);
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4]"), std::string::npos) << m;
  }
  Tensor out = Tensor::empty({3, 3});
  EXPECT_THROW(binary(Binary::add, x, Tensor::zeros({3}), out), Error);
  EXPECT_THROW(binary(Binary::add, x, Tensor::zeros({2, 3}, DType::f64)), Error);
}

// ---------------------------------------------------------------- linear combinations

TEST(Lincomb, OnePassUpToFourTermsAndMore) {
  for (DType dt : kFloatTypes)
    for (int nt = 0; nt <= 6; ++nt) {
      const int64_t n = 1001;
      Tensor x0 = random_tensor({n}, dt, 7);
      std::vector<std::pair<double, Tensor>> terms;
      std::vector<double> ref = x0.to_vector<double>();
      for (double& v : ref) v *= 0.5;
      for (int i = 0; i < nt; ++i) {
        double c = 0.25 * (i + 1) * (i % 2 ? -1 : 1);
        Tensor k = random_tensor({n}, dt, 20 + i);
        std::vector<double> kv = k.to_vector<double>();
        for (int64_t j = 0; j < n; ++j) ref[j] += c * kv[j];
        terms.push_back({c, k});
      }
      Tensor out = Tensor::empty({n}, dt);
      lincomb(out, 0.5, x0, terms);
      EXPECT_TENSOR_NEAR(out, Tensor::from_doubles(ref, {n}, dt), rtol(dt) * 10, atol(dt) * 10) << nt << " terms";
    }
}

TEST(Lincomb, OutputMayAliasInputs) {
  Tensor y = random_tensor({64}, DType::f64, 1);
  Tensor k = random_tensor({64}, DType::f64, 2);
  std::vector<double> vy = y.to_vector<double>(), vk = k.to_vector<double>();
  lincomb(y, 1.0, y, {{2.0, k}, {-1.0, y}});  // y = y + 2k - y = 2k
  std::vector<double> got = y.to_vector<double>();
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(got[i], 2 * vk[i], 1e-15);
  axpby(3.0, k, -1.0, k);  // k = 3k - k = 2k
  got = k.to_vector<double>();
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(got[i], 2 * vk[i], 1e-15);
  Tensor small = Tensor::zeros({3}, DType::f64);
  EXPECT_THROW(axpby(1.0, small, 1.0, y), Error);
}

// ---------------------------------------------------------------- CUDA vs CPU

class ElementwiseCuda : public testing::CudaTest {};

TEST_F(ElementwiseCuda, UnaryMatchesCpu) {
  int seed = 500;
  for (DType dt : kFloatTypes)
    for (const UnaryCase& c : unary_cases())
      for (Shape s : {Shape{1}, Shape{1000003}, Shape{3, 5, 7}}) {
        SCOPED_TRACE(std::string(unary_name(c.op)) + " " + dtype_name(dt) + " " + s.str());
        Tensor x = random_tensor(s, dt, seed++, c.lo, c.hi);
        Tensor cpu = unary(c.op, x, c.a, c.b);
        Tensor gpu = unary(c.op, x.to(Device::cuda()), c.a, c.b);
        EXPECT_TRUE(gpu.is_cuda());
        // CUDA's float transcendental functions differ from glibc by a few ulp.
        EXPECT_TENSOR_NEAR(gpu, cpu, dt == DType::f64 ? 1e-14 : 8e-6, dt == DType::f64 ? 1e-15 : 1e-6);
      }
}

TEST_F(ElementwiseCuda, BinaryMatchesCpu) {
  int seed = 900;
  for (DType dt : kFloatTypes)
    for (const BinaryCase& c : binary_cases())
      for (const auto& [sx, sy] : kBroadcastPairs) {
        SCOPED_TRACE(std::string(binary_name(c.op)) + " " + sx.str() + " " + sy.str());
        Tensor x = random_tensor(sx, dt, seed++);
        Tensor y = c.positive_y ? random_tensor(sy, dt, seed++, 0.5, 2.0) : random_tensor(sy, dt, seed++);
        Tensor cpu = binary(c.op, x, y, c.a);
        Tensor gpu = binary(c.op, x.to(Device::cuda()), y.to(Device::cuda()), c.a);
        EXPECT_TENSOR_NEAR(gpu, cpu, dt == DType::f64 ? 1e-15 : 1e-6, 1e-7);
      }
}

TEST_F(ElementwiseCuda, LincombMatchesCpu) {
  for (DType dt : kFloatTypes) {
    const int64_t n = 123457;
    Device g = Device::cuda();
    Tensor x0 = random_tensor({n}, dt, 1);
    std::vector<std::pair<double, Tensor>> tc, tg;
    for (int i = 0; i < 5; ++i) {
      Tensor k = random_tensor({n}, dt, 10 + i);
      tc.push_back({0.1 * (i + 1), k});
      tg.push_back({0.1 * (i + 1), k.to(g)});
    }
    Tensor oc = Tensor::empty({n}, dt), og = Tensor::empty({n}, dt, g);
    lincomb(oc, 1.0, x0, tc);
    lincomb(og, 1.0, x0.to(g), tg);
    EXPECT_TENSOR_NEAR(og, oc, dt == DType::f64 ? 1e-15 : 1e-6, 1e-7);
  }
}

}  // namespace
}  // namespace odegan::kernels
