// Bilinear resampling (kernels/resize.h) against values worked out by hand, against the
// exact result on affine images, against a separable reference, the adjoint identity of its
// backward, bad arguments, and CUDA against the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/resize.h"
#include "tests/common/test_util.h"

namespace odegan::kernels {
namespace {

using testing::dot;
using testing::kFloatTypes;
using testing::random_tensor;

Tensor resized(const Tensor& x, int64_t oh, int64_t ow) {
  Tensor y = Tensor::empty({x.shape()[0], x.shape()[1], oh, ow}, x.dtype(), x.device());
  resize_bilinear(x, y);
  return y;
}

Tensor adjoint(const Tensor& gy, const Shape& xs) {
  Tensor gx = Tensor::empty(xs, gy.dtype(), gy.device());
  resize_bilinear_backward(gy, gx);
  return gx;
}

// PyTorch's source coordinate, clamped: max(0, (u + 1/2) in / out - 1/2), at most in - 1.
double source(int64_t u, int64_t in, int64_t out) {
  return std::min(std::max(0.0, (u + 0.5) * double(in) / double(out) - 0.5), double(in - 1));
}

TEST(ResizeBilinear, TwoByTwoToFourByFourByHand) {
  // Rows and columns read source positions 0, 0.25, 0.75, 1 (the first clamped from -0.25,
  // the last from 1.25): [a, b] -> [a, (3a + b) / 4, (a + 3b) / 4, b].
  for (DType dt : kFloatTypes) {
    Tensor x = Tensor::from_doubles({1, 2, 3, 4}, {1, 1, 2, 2}, dt);
    const std::vector<double> expect = {1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5,
                                        2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0};
    EXPECT_TENSOR_NEAR(resized(x, 4, 4), Tensor::from_doubles(expect, {1, 1, 4, 4}, dt), 0, 0);
    // 4 -> 2 reads positions 0.5 and 2.5: means of neighbours.
    Tensor row = Tensor::from_doubles({0, 10, 20, 40}, {1, 1, 1, 4}, dt);
    EXPECT_TENSOR_NEAR(resized(row, 1, 2), Tensor::from_doubles({5, 30}, {1, 1, 1, 2}, dt), 0, 0);
  }
}

TEST(ResizeBilinear, ReproducesAffineImagesExactly) {
  // Interpolating an affine image gives the affine function at the (clamped) source point.
  const std::vector<std::array<int64_t, 4>> sizes = {
      {5, 7, 13, 4}, {32, 32, 299, 299}, {40, 28, 299, 299}, {9, 3, 2, 11}, {1, 6, 3, 6}, {6, 6, 6, 6}};
  for (DType dt : kFloatTypes)
    for (const auto& [h, w, oh, ow] : sizes) {
      std::vector<double> v;
      for (int64_t n = 0; n < 2; ++n)
        for (int64_t i = 0; i < h; ++i)
          for (int64_t j = 0; j < w; ++j) v.push_back(0.5 + 0.25 * n - 0.03 * i + 0.02 * j);
      Tensor y = resized(Tensor::from_doubles(v, {2, 1, h, w}, dt), oh, ow);
      std::vector<double> e;
      for (int64_t n = 0; n < 2; ++n)
        for (int64_t u = 0; u < oh; ++u)
          for (int64_t q = 0; q < ow; ++q) e.push_back(0.5 + 0.25 * n - 0.03 * source(u, h, oh) + 0.02 * source(q, w, ow));
      const double tol = dt == DType::f64 ? 1e-13 : 2e-6;
      EXPECT_TENSOR_NEAR(y, Tensor::from_doubles(e, {2, 1, oh, ow}, dt), tol, tol) << h << "x" << w << " -> " << oh
                                                                                    << "x" << ow;
    }
}

TEST(ResizeBilinear, SeparableImagesMatchOneDimensionalInterpolation) {
  // x[i, j] = f(i) g(j) with random f, g resamples to F(u) G(v), F and G the 1-D interpolants.
  auto interp = [](const std::vector<double>& f, int64_t out) {
    const int64_t in = int64_t(f.size());
    std::vector<double> r;
    for (int64_t u = 0; u < out; ++u) {
      const double s = source(u, in, out);
      const int64_t i0 = int64_t(std::floor(s)), i1 = std::min(i0 + 1, in - 1);
      r.push_back((1 - (s - i0)) * f[size_t(i0)] + (s - i0) * f[size_t(i1)]);
    }
    return r;
  };
  const int64_t h = 7, w = 10, oh = 17, ow = 4;
  std::vector<double> f = random_tensor({h}, DType::f64, 1).to_vector<double>();
  std::vector<double> g = random_tensor({w}, DType::f64, 2).to_vector<double>();
  std::vector<double> x, e;
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) x.push_back(f[size_t(i)] * g[size_t(j)]);
  std::vector<double> F = interp(f, oh), G = interp(g, ow);
  for (int64_t u = 0; u < oh; ++u)
    for (int64_t v = 0; v < ow; ++v) e.push_back(F[size_t(u)] * G[size_t(v)]);
  EXPECT_TENSOR_NEAR(resized(Tensor::from_doubles(x, {1, 1, h, w}, DType::f64), oh, ow),
                     Tensor::from_doubles(e, {1, 1, oh, ow}, DType::f64), 1e-12, 1e-12);
}

const std::vector<std::pair<Shape, std::pair<int64_t, int64_t>>> kCases = {
    {{2, 3, 5, 7}, {13, 4}}, {{1, 2, 32, 32}, {299, 299}}, {{1, 1, 40, 28}, {29, 97}},
    {{2, 1, 1, 6}, {3, 6}},  {{1, 2, 4, 4}, {4, 4}},       {{1, 1, 40, 40}, {7, 3}}};

TEST(ResizeBilinear, BackwardIsTheAdjoint) {
  // <resize(x), gy> = <x, resize_backward(gy)> in float64, for up-, down- and equal sizes.
  int seed = 10;
  for (const auto& [xs, out] : kCases) {
    Tensor x = random_tensor(xs, DType::f64, seed++);
    Tensor y = resized(x, out.first, out.second);
    Tensor gy = random_tensor(y.shape(), DType::f64, seed++);
    const double lhs = dot(y, gy), rhs = dot(x, adjoint(gy, xs));
    EXPECT_NEAR(lhs, rhs, 1e-11 * (1 + std::fabs(lhs))) << xs.str();
  }
}

TEST(ResizeBilinear, BadArguments) {
  Tensor x = Tensor::zeros({1, 3, 4, 4});
  Tensor wrong_c = Tensor::empty({1, 2, 8, 8});
  EXPECT_THROW(resize_bilinear(x, wrong_c), Error);
  Tensor three_d = Tensor::empty({3, 8, 8});
  EXPECT_THROW(resize_bilinear(x, three_d), Error);
  Tensor f64 = Tensor::empty({1, 3, 8, 8}, DType::f64);
  EXPECT_THROW(resize_bilinear(x, f64), Error);
  Tensor empty_image = Tensor::zeros({1, 3, 0, 4}), y = Tensor::empty({1, 3, 8, 8});
  try {
    resize_bilinear(empty_image, y);
    FAIL() << "resampling an empty image must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty image"), std::string::npos) << e.what();
  }
}

class ResizeCuda : public ::testing::Test {
 protected:
  void SetUp() override { ODEGAN_REQUIRE_CUDA(); }
};

TEST_F(ResizeCuda, MatchesCpu) {
  Device dev = Device::cuda();
  int seed = 50;
  for (DType dt : kFloatTypes)
    for (const auto& [xs, out] : kCases) {
      Tensor x = random_tensor(xs, dt, seed++);
      Tensor y = resized(x, out.first, out.second);
      Tensor gy = random_tensor(y.shape(), dt, seed++);
      const double tol = dt == DType::f64 ? 1e-12 : 1e-6;
      EXPECT_TENSOR_NEAR(resized(x.to(dev), out.first, out.second), y, tol, tol) << xs.str();
      EXPECT_TENSOR_NEAR(adjoint(gy.to(dev), xs), adjoint(gy, xs), tol, tol) << xs.str();
    }
}

}  // namespace
}  // namespace odegan::kernels
