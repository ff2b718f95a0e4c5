// Matrix products and convolutions against naive loops in double, adjoint identities of
// the convolution's backward passes, and CUDA (cuBLAS / cuDNN) against the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "kernels/conv.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/parallel.h"
#include "kernels/matmul.h"
#include "tests/common/test_util.h"

namespace odegan::kernels {
namespace {

using testing::kFloatTypes;
using testing::dot;
using testing::random_tensor;

Tensor naive_matmul(const Tensor& a, bool ta, const Tensor& b, bool tb) {
  const int64_t m = ta ? a.shape()[1] : a.shape()[0], k = ta ? a.shape()[0] : a.shape()[1];
  const int64_t n = tb ? b.shape()[0] : b.shape()[1];
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), c(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      long double s = 0;
      for (int64_t p = 0; p < k; ++p)
        s += (long double)(ta ? av[p * m + i] : av[i * k + p]) * (tb ? bv[j * k + p] : bv[p * n + j]);
      c[i * n + j] = static_cast<double>(s);
    }
  return Tensor::from_doubles(c, {m, n}, DType::f64);
}

// Runs the body with each CPU gemm instruction set this machine has, restoring the default.
template <class F>
void for_each_gemm_isa(F&& body) {
  const cpu::GemmIsa saved = cpu::gemm_isa();
  for (cpu::GemmIsa isa : {cpu::GemmIsa::avx2, cpu::GemmIsa::avx512}) {
    if (!cpu::gemm_isa_available(isa)) continue;
    cpu::set_gemm_isa(isa);
    SCOPED_TRACE(cpu::gemm_isa_name(isa));
    body();
  }
  cpu::set_gemm_isa(saved);
}

// Calls body(a, b, ta, tb, seed) for both dtypes, every size {m, n, k} and every transpose
// pair, with random operands stored so that op(A) is m x k and op(B) is k x n; `seed` is
// the next free seed, for any further random tensors the body needs.
template <size_t N, class F>
void for_each_product(const int (&sizes)[N][3], int seed, F&& body) {
  for (DType dt : kFloatTypes)
    for (auto& s : sizes)
      for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
          const int64_t m = s[0], n = s[1], k = s[2];
          Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, dt, seed++);
          Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, dt, seed++);
          SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " ta " +
                       std::to_string(ta) + " tb " + std::to_string(tb) + " " + dtype_name(dt));
          body(a, b, ta != 0, tb != 0, seed);
        }
}

TEST(Matmul, AllTransposesAndOddSizesMatchNaive) {
  const int sizes[][3] = {{1, 1, 1},    {7, 5, 3},     {33, 65, 17}, {64, 64, 64}, {100, 1, 37}, {2, 130, 9},
                          {512, 25, 32}, {25, 25, 300}, {6, 16, 1},   {13, 7, 300}, {97, 33, 5}};
  for_each_gemm_isa([&] {
    for_each_product(sizes, 1, [](const Tensor& a, const Tensor& b, bool ta, bool tb, int&) {
      Tensor c = matmul(a, b, ta, tb);
      const double k = static_cast<double>(ta ? a.shape()[0] : a.shape()[1]);
      const double tol = a.dtype() == DType::f64 ? 1e-12 : 1e-5 * std::sqrt(k);
      EXPECT_TENSOR_NEAR(c, naive_matmul(a, ta, b, tb).to(a.dtype()), tol, tol);
    });
  });
}

// The AVX2 and AVX-512 gemms add in the same order, so they agree to the bit; a checkpoint
// then resumes identically on machines with either. Shapes cross every blocking edge:
// partial register blocks, several row blocks (MC = 96), column blocks (NC = 1024) and
// K blocks (KC = 256), with beta != 0 on top.
TEST(Matmul, InstructionSetsGiveIdenticalBits) {
  if (!cpu::gemm_isa_available(cpu::GemmIsa::avx512)) GTEST_SKIP() << "this CPU has no AVX-512: one gemm only";
  const int sizes[][3] = {{13, 37, 300}, {200, 1100, 70}, {97, 40, 600}, {512, 25, 32}, {6, 64, 257}};
  const cpu::GemmIsa saved = cpu::gemm_isa();
  for_each_product(sizes, 100, [](const Tensor& a, const Tensor& b, bool ta, bool tb, int& seed) {
    const int64_t m = ta ? a.shape()[1] : a.shape()[0], n = tb ? b.shape()[0] : b.shape()[1];
    Tensor c0 = random_tensor({m, n}, a.dtype(), seed++);
    Tensor c[2] = {c0.clone(), c0.clone()};
    cpu::set_gemm_isa(cpu::GemmIsa::avx2);
    gemm(a, ta, b, tb, c[0], 1.5, 0.25);
    cpu::set_gemm_isa(cpu::GemmIsa::avx512);
    gemm(a, ta, b, tb, c[1], 1.5, 0.25);
    std::vector<double> x = c[0].to_vector<double>(), y = c[1].to_vector<double>();
    size_t differ = 0;
    for (size_t i = 0; i < x.size(); ++i) differ += x[i] != y[i];
    EXPECT_EQ(differ, 0u);
  });
  cpu::set_gemm_isa(saved);
}

TEST(Matmul, AlphaBetaAndBetaZeroIgnoresNaN) {
  for (DType dt : kFloatTypes) {
    Tensor a = random_tensor({9, 11}, dt, 1), b = random_tensor({11, 20}, dt, 2), c0 = random_tensor({9, 20}, dt, 3);
    Tensor c = c0.clone();
    gemm(a, false, b, false, c, 2.0, 0.5);
    std::vector<double> ref = naive_matmul(a, false, b, false).to_vector<double>(), cv = c0.to_vector<double>();
    for (size_t i = 0; i < ref.size(); ++i) ref[i] = 2 * ref[i] + 0.5 * cv[i];
    EXPECT_TENSOR_NEAR(c, Tensor::from_doubles(ref, {9, 20}, dt), 1e-5, 1e-5);
    Tensor nan = Tensor::full({9, 20}, NAN, dt);
    gemm(a, false, b, false, nan, 1.0, 0.0);
    EXPECT_TENSOR_NEAR(nan, naive_matmul(a, false, b, false).to(dt), 1e-5, 1e-5);
  }
}

TEST(Matmul, ShapeErrorsNameBothOperands) {
  try {
    matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5}));
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 5]"), std::string::npos) << m;
  }
  EXPECT_THROW(matmul(Tensor::zeros({2, 3}), Tensor::zeros({3})), Error);
}

// Direct 7-loop convolution in double.
Tensor naive_conv(const Tensor& x, const Tensor& w, const Conv2dGeometry& g) {
  Shape ys = conv2d_output_shape(x.shape(), w.shape(), g);
  const Shape &xs = x.shape(), &ws = w.shape();
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), y(static_cast<size_t>(ys.numel()));
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t k = 0; k < ys[1]; ++k)
      for (int64_t p = 0; p < ys[2]; ++p)
        for (int64_t q = 0; q < ys[3]; ++q) {
          double s = 0;
          for (int64_t c = 0; c < xs[1]; ++c)
            for (int64_t r = 0; r < ws[2]; ++r)
              for (int64_t t = 0; t < ws[3]; ++t) {
                int64_t h = p * g.stride_h - g.pad_h + r * g.dilation_h, ww = q * g.stride_w - g.pad_w + t * g.dilation_w;
                if (h < 0 || h >= xs[2] || ww < 0 || ww >= xs[3]) continue;
                s += xv[((n * xs[1] + c) * xs[2] + h) * xs[3] + ww] * wv[((k * ws[1] + c) * ws[2] + r) * ws[3] + t];
              }
          y[((n * ys[1] + k) * ys[2] + p) * ys[3] + q] = s;
        }
  return Tensor::from_doubles(y, ys, DType::f64);
}

struct ConvCase {
  Shape x, w;
  Conv2dGeometry g;
};

const std::vector<ConvCase> kConvCases = {
    {{2, 3, 7, 6}, {4, 3, 3, 3}, Conv2dGeometry::make(1, 1)},
    {{1, 2, 8, 8}, {3, 2, 4, 4}, Conv2dGeometry::make(2, 1)},
    {{2, 1, 9, 7}, {2, 1, 3, 2}, {2, 1, 0, 1, 1, 1}},
    {{1, 2, 9, 9}, {2, 2, 3, 3}, Conv2dGeometry::make(1, 2, 2)},
    {{3, 4, 5, 5}, {5, 4, 1, 1}, Conv2dGeometry::make(1, 0)},
    {{1, 3, 32, 32}, {8, 3, 3, 3}, Conv2dGeometry::make(1, 1)},
    {{2, 8, 6, 6}, {3, 8, 4, 4}, Conv2dGeometry::make(2, 1)},
    {{1, 3, 9, 8}, {2, 3, 1, 7}, {1, 1, 0, 3, 1, 1}},  // Inception's factorised 7x7: 1x7 and 7x1
    {{2, 2, 8, 9}, {3, 2, 7, 1}, {1, 1, 3, 0, 1, 1}},
};

TEST(Conv, ForwardMatchesDirectLoops) {
  int seed = 10;
  for (DType dt : kFloatTypes)
    for (const ConvCase& c : kConvCases) {
      Tensor x = random_tensor(c.x, dt, seed++), w = random_tensor(c.w, dt, seed++);
      double tol = dt == DType::f64 ? 1e-12 : 2e-5;
      EXPECT_TENSOR_NEAR(conv2d_forward(x, w, c.g), naive_conv(x, w, c.g).to(dt), tol, tol) << c.x.str() << c.w.str();
    }
}

TEST(Conv, BackwardPassesAreAdjointsOfForward) {
  // <conv(x, w), gy> = <x, bwd_data(gy, w)> = <w, bwd_filter(x, gy)> in float64.
  int seed = 100;
  for (const ConvCase& c : kConvCases) {
    Tensor x = random_tensor(c.x, DType::f64, seed++), w = random_tensor(c.w, DType::f64, seed++);
    Shape ys = conv2d_output_shape(c.x, c.w, c.g);
    Tensor gy = random_tensor(ys, DType::f64, seed++);
    const double lhs = dot(conv2d_forward(x, w, c.g), gy);
    EXPECT_NEAR(lhs, dot(x, conv2d_backward_data(gy, w, c.x, c.g)), 1e-10 * (1 + std::fabs(lhs))) << c.x.str();
    EXPECT_NEAR(lhs, dot(w, conv2d_backward_filter(x, gy, c.w, c.g)), 1e-10 * (1 + std::fabs(lhs))) << c.x.str();
  }
}

// The CPU convolution multiplies a group of images at a time (their columns side by side)
// and spreads groups or gemm tiles over threads. Forward and backward-data sum every
// output in the same order whatever the grouping, so they must equal one image at a time
// bit for bit; all three must be the same on one thread and on all threads, and the
// filter gradient (summed by group) must match a float64 reference.
TEST(Conv, GroupedImagesAndThreadsGiveTheSameResults) {
  struct Case {
    Shape x, w;
    Conv2dGeometry g;
  };
  // 13 images of 8x8 -> 2 groups (8 + 5), parallel across groups; 3 images of 4x4 -> one
  // group of 3 whose gemm spreads its row blocks over threads; 32x32 stride 2 (one image
  // per group, PQ = 256).
  const std::vector<Case> cases = {{{13, 32, 8, 8}, {32, 32, 3, 3}, Conv2dGeometry::make(1, 1)},
                                   {{3, 64, 4, 4}, {256, 64, 3, 3}, Conv2dGeometry::make(1, 1)},
                                   {{5, 16, 32, 32}, {24, 16, 4, 4}, Conv2dGeometry::make(2, 1)}};
  int seed = 500;
  for (const Case& c : cases) {
    Tensor x = random_tensor(c.x, DType::f32, seed++), w = random_tensor(c.w, DType::f32, seed++);
    const Shape ys = conv2d_output_shape(c.x, c.w, c.g);
    Tensor gy = random_tensor(ys, DType::f32, seed++);
    Tensor y = conv2d_forward(x, w, c.g), gx = conv2d_backward_data(gy, w, c.x, c.g);
    Tensor gw = conv2d_backward_filter(x, gy, c.w, c.g);
    // One thread: inside a parallel loop every nested loop runs serially.
    Tensor y1, gx1, gw1;
    cpu::run_chunks(1, [&](int64_t) {
      y1 = conv2d_forward(x, w, c.g);
      gx1 = conv2d_backward_data(gy, w, c.x, c.g);
      gw1 = conv2d_backward_filter(x, gy, c.w, c.g);
    });
    EXPECT_EQ(y.to_vector<float>(), y1.to_vector<float>()) << c.x.str();
    EXPECT_EQ(gx.to_vector<float>(), gx1.to_vector<float>()) << c.x.str();
    EXPECT_EQ(gw.to_vector<float>(), gw1.to_vector<float>()) << c.x.str();
    // Image by image.
    for (int64_t n = 0; n < c.x[0]; ++n) {
      Tensor xn = x.slice(n, n + 1), gyn = gy.slice(n, n + 1);
      Shape xs1 = c.x;
      xs1[0] = 1;
      ASSERT_EQ(conv2d_forward(xn, w, c.g).to_vector<float>(), y.slice(n, n + 1).to_vector<float>())
          << c.x.str() << " image " << n;
      ASSERT_EQ(conv2d_backward_data(gyn, w, xs1, c.g).to_vector<float>(),
                gx.slice(n, n + 1).to_vector<float>())
          << c.x.str() << " image " << n;
    }
    Tensor ref = conv2d_backward_filter(x.to(DType::f64), gy.to(DType::f64), c.w, c.g);
    EXPECT_TENSOR_NEAR(gw.to(DType::f64), ref, 1e-4, 1e-4) << c.x.str();
  }
}

TEST(Conv, TransposedConvolutionShape) {
  // 4x4 kernel, stride 2, padding 1 doubles the size (the DCGAN generator's up-sampling).
  EXPECT_EQ(conv_transpose2d_output_shape({2, 512, 4, 4}, {512, 256, 4, 4}, Conv2dGeometry::make(2, 1)),
            Shape({2, 256, 8, 8}));
  EXPECT_EQ(conv_transpose2d_output_shape({1, 3, 5, 5}, {3, 2, 3, 3}, Conv2dGeometry::make(2, 1), 1, 1),
            Shape({1, 2, 10, 10}));
  // And it is the backward-data of the convolution that maps back.
  EXPECT_EQ(conv2d_output_shape({1, 2, 10, 10}, {3, 2, 3, 3}, Conv2dGeometry::make(2, 1)), Shape({1, 3, 5, 5}));
  EXPECT_THROW(conv_transpose2d_output_shape({1, 3, 5, 5}, {4, 2, 3, 3}, Conv2dGeometry::make(2, 1)), Error);
}

TEST(Conv, BadArguments) {
  EXPECT_THROW(conv2d_forward(Tensor::zeros({1, 3, 8, 8}), Tensor::zeros({4, 2, 3, 3}), Conv2dGeometry::make(1, 1)),
               Error);  // channel mismatch
  EXPECT_THROW(conv2d_forward(Tensor::zeros({1, 3, 2, 2}), Tensor::zeros({4, 3, 5, 5}), Conv2dGeometry::make(1, 0)),
               Error);  // input too small
  EXPECT_THROW(conv2d_forward(Tensor::zeros({1, 3, 8}), Tensor::zeros({4, 3, 3, 3}), Conv2dGeometry::make(1, 0)),
               Error);  // not 4-D
  EXPECT_THROW(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 3, 3}, Conv2dGeometry::make(0, 1)), Error);
}

// Empty sums are zeros (k == 0 in a product; no images or no input channels in a
// convolution), on every device.
void check_empty_operands(Device dev) {
  for (DType dt : kFloatTypes) {
    Tensor a = Tensor::empty({4, 0}, dt, dev), b = Tensor::empty({0, 9}, dt, dev);
    Tensor c0 = random_tensor({4, 9}, dt, 5);
    std::vector<double> want = c0.to_vector<double>();
    for (double& v : want) v *= 0.5;
    Tensor c = c0.clone().to(dev);  // to(cpu) of a CPU tensor is the same tensor
    gemm(a, false, b, false, c, 1.0, 0.5);
    EXPECT_TENSOR_NEAR(c.to(Device::cpu()), Tensor::from_doubles(want, {4, 9}, dt), 0, 0);
    const Conv2dGeometry g = Conv2dGeometry::make(1, 1);
    // No input channels: the forward output is all zeros.
    Tensor y = conv2d_forward(Tensor::empty({2, 0, 5, 5}, dt, dev), Tensor::empty({3, 0, 3, 3}, dt, dev), g);
    EXPECT_EQ(y.shape(), (Shape{2, 3, 5, 5}));
    EXPECT_TENSOR_NEAR(y.to(Device::cpu()), Tensor::zeros({2, 3, 5, 5}, dt), 0, 0);
    // No images: the filter gradient is all zeros.
    Tensor gw = conv2d_backward_filter(Tensor::empty({0, 2, 5, 5}, dt, dev), Tensor::empty({0, 3, 5, 5}, dt, dev),
                                       Shape{3, 2, 3, 3}, g);
    EXPECT_TENSOR_NEAR(gw.to(Device::cpu()), Tensor::zeros({3, 2, 3, 3}, dt), 0, 0);
    // No output channels: the data gradient is all zeros.
    Tensor gx = conv2d_backward_data(Tensor::empty({2, 0, 5, 5}, dt, dev), Tensor::empty({0, 2, 3, 3}, dt, dev),
                                     Shape{2, 2, 5, 5}, g);
    EXPECT_TENSOR_NEAR(gx.to(Device::cpu()), Tensor::zeros({2, 2, 5, 5}, dt), 0, 0);
  }
}

TEST(MatmulConv, EmptyOperandsGiveZeros) { check_empty_operands(Device::cpu()); }

class MatmulConvCuda : public testing::CudaTest {};

TEST_F(MatmulConvCuda, EmptyOperandsGiveZeros) { check_empty_operands(Device::cuda()); }

TEST_F(MatmulConvCuda, CublasMatchesCpu) {
  Device g = Device::cuda();
  int seed = 500;
  for (DType dt : kFloatTypes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        const int64_t m = 37, n = 129, k = 65;
        Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, dt, seed++);
        Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, dt, seed++);
        Tensor c0 = random_tensor({m, n}, dt, seed++);
        Tensor cc = c0.clone(), cg = c0.to(g);
        gemm(a, ta, b, tb, cc, 1.5, 0.5);
        gemm(a.to(g), ta, b.to(g), tb, cg, 1.5, 0.5);
        EXPECT_TENSOR_NEAR(cg, cc, dt == DType::f64 ? 1e-12 : 1e-5, 1e-5);
      }
}

TEST_F(MatmulConvCuda, CudnnMatchesCpu) {
  Device g = Device::cuda();
  int seed = 700;
  for (DType dt : kFloatTypes)
    for (const ConvCase& c : kConvCases) {
      Tensor x = random_tensor(c.x, dt, seed++), w = random_tensor(c.w, dt, seed++);
      Shape ys = conv2d_output_shape(c.x, c.w, c.g);
      Tensor gy = random_tensor(ys, dt, seed++);
      const double tol = dt == DType::f64 ? 1e-11 : 1e-4;
      EXPECT_TENSOR_NEAR(conv2d_forward(x.to(g), w.to(g), c.g), conv2d_forward(x, w, c.g), tol, tol);
      EXPECT_TENSOR_NEAR(conv2d_backward_data(gy.to(g), w.to(g), c.x, c.g), conv2d_backward_data(gy, w, c.x, c.g), tol,
                         tol);
      EXPECT_TENSOR_NEAR(conv2d_backward_filter(x.to(g), gy.to(g), c.w, c.g), conv2d_backward_filter(x, gy, c.w, c.g),
                         tol, tol);
    }
}

}  // namespace
}  // namespace odegan::kernels
