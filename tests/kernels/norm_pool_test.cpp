// Batch norm, pooling, upsampling and the Adam update against naive references, adjoint
// identities for the linear backward passes, and CUDA against the CPU.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/norm.h"
#include "kernels/optim.h"
#include "kernels/pool.h"
#include "tests/common/test_util.h"

namespace odegan::kernels {
namespace {

using testing::kFloatTypes;
using testing::dot;
using testing::random_tensor;

// Channel c's elements of NCHW (or (N, C)) as a list.
std::vector<double> channel(const Tensor& x, int64_t c) {
  std::vector<double> v = x.to_vector<double>(), out;
  const int64_t n = x.shape()[0], ch = x.shape()[1], hw = x.numel() / (n * ch);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < hw; ++j) out.push_back(v[(i * ch + c) * hw + j]);
  return out;
}

TEST(BatchNorm, TrainingForwardStatisticsAndRunningUpdate) {
  for (DType dt : kFloatTypes)
    for (Shape s : {Shape{4, 3, 5, 2}, Shape{7, 5}}) {
      const int64_t c = s[1];
      Tensor x = random_tensor(s, dt, 1, -2, 3), gamma = random_tensor({c}, dt, 2, 0.5, 1.5),
             beta = random_tensor({c}, dt, 3);
      Tensor rm = random_tensor({c}, dt, 4), rv = random_tensor({c}, dt, 5, 0.5, 2);
      Tensor rm0 = rm.clone(), rv0 = rv.clone();
      Tensor y = Tensor::empty_like(x), mean = Tensor::empty({c}, dt), inv = Tensor::empty({c}, dt);
      const double eps = 1e-3, mom = 0.1;
      batch_norm_forward_training(x, gamma, beta, eps, mom, rm, rv, y, mean, inv);
      const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
      for (int64_t k = 0; k < c; ++k) {
        std::vector<double> xs = channel(x, k), ys = channel(y, k);
        double mu = 0, var = 0;
        for (double v : xs) mu += v;
        mu /= xs.size();
        for (double v : xs) var += (v - mu) * (v - mu);
        var /= xs.size();
        const double g = gamma.to_vector<double>()[k], b = beta.to_vector<double>()[k];
        EXPECT_NEAR(mean.to_vector<double>()[k], mu, tol);
        EXPECT_NEAR(inv.to_vector<double>()[k], 1 / std::sqrt(var + eps), tol * 10);
        for (size_t i = 0; i < xs.size(); ++i) EXPECT_NEAR(ys[i], (xs[i] - mu) / std::sqrt(var + eps) * g + b, tol * 10);
        const double m = double(xs.size());
        EXPECT_NEAR(rm.to_vector<double>()[k], 0.9 * rm0.to_vector<double>()[k] + 0.1 * mu, tol);
        EXPECT_NEAR(rv.to_vector<double>()[k], 0.9 * rv0.to_vector<double>()[k] + 0.1 * var * m / (m - 1), tol * 10);
      }
    }
}

TEST(BatchNorm, InferenceUsesRunningStatistics) {
  Tensor x = random_tensor({3, 2, 2, 2}, DType::f64, 1);
  Tensor g = Tensor::from_vector<double>({2, 0.5}, {2}), b = Tensor::from_vector<double>({0.1, -1}, {2});
  Tensor rm = Tensor::from_vector<double>({0.3, -0.2}, {2}), rv = Tensor::from_vector<double>({4, 0.25}, {2});
  Tensor y = Tensor::empty_like(x);
  batch_norm_forward_inference(x, g, b, rm, rv, 0.0 + 1e-5, y);
  std::vector<double> xs = channel(x, 1), ys = channel(y, 1);
  for (size_t i = 0; i < xs.size(); ++i) EXPECT_NEAR(ys[i], (xs[i] + 0.2) / std::sqrt(0.25 + 1e-5) * 0.5 - 1, 1e-12);
}

TEST(BatchNorm, BackwardMatchesFiniteDifferences) {
  // Loss L = <y(x, gamma, beta), gy>; central differences in float64.
  Shape s{3, 2, 2, 3};
  Tensor x = random_tensor(s, DType::f64, 1), gamma = random_tensor({2}, DType::f64, 2, 0.5, 1.5),
         beta = random_tensor({2}, DType::f64, 3), gy = random_tensor(s, DType::f64, 4);
  const double eps = 1e-3;
  Tensor none;
  auto loss = [&](const Tensor& xx, const Tensor& gg, const Tensor& bb) {
    Tensor y = Tensor::empty_like(xx), m = Tensor::empty({2}, DType::f64), i = Tensor::empty({2}, DType::f64);
    Tensor rm, rv;
    batch_norm_forward_training(xx, gg, bb, eps, 0.1, rm, rv, y, m, i);
    return dot(y, gy);
  };
  Tensor y = Tensor::empty_like(x), mean = Tensor::empty({2}, DType::f64), inv = Tensor::empty({2}, DType::f64);
  Tensor rm, rv;
  batch_norm_forward_training(x, gamma, beta, eps, 0.1, rm, rv, y, mean, inv);
  Tensor gx = Tensor::empty_like(x), gg = Tensor::empty({2}, DType::f64), gb = Tensor::empty({2}, DType::f64);
  batch_norm_backward(gy, x, gamma, mean, inv, gx, gg, gb);
  const double h = 1e-6;
  auto fd = [&](Tensor t, int64_t i) {
    double* p = t.data<double>();
    const double v = p[i];
    p[i] = v + h;
    double a = loss(x, gamma, beta);
    p[i] = v - h;
    double b = loss(x, gamma, beta);
    p[i] = v;
    return (a - b) / (2 * h);
  };
  std::vector<double> gxv = gx.to_vector<double>();
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_NEAR(gxv[i], fd(x, i), 1e-6) << "x " << i;
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(gg.to_vector<double>()[i], fd(gamma, i), 1e-6);
    EXPECT_NEAR(gb.to_vector<double>()[i], fd(beta, i), 1e-6);
  }
  // Outputs may be skipped.
  Tensor only = Tensor::empty({2}, DType::f64);
  batch_norm_backward(gy, x, gamma, mean, inv, none, only, none);
  EXPECT_TENSOR_NEAR(only, gg, 0, 0);
}

TEST(BatchNorm, SingleElementPerChannelKeepsRunningVariance) {
  Tensor x = Tensor::from_vector<double>({1, 2}, {1, 2});
  Tensor g = Tensor::ones({2}, DType::f64), b = Tensor::zeros({2}, DType::f64);
  Tensor rm = Tensor::zeros({2}, DType::f64), rv = Tensor::ones({2}, DType::f64);
  Tensor y = Tensor::empty_like(x), m = Tensor::empty({2}, DType::f64), i = Tensor::empty({2}, DType::f64);
  batch_norm_forward_training(x, g, b, 1e-5, 0.5, rm, rv, y, m, i);
  EXPECT_EQ(rv.to_vector<double>(), (std::vector<double>{1, 1}));
  EXPECT_EQ(rm.to_vector<double>(), (std::vector<double>{0.5, 1}));
}

TEST(BatchNorm, BadArguments) {
  Tensor x = Tensor::zeros({2, 3, 4, 4}), y = Tensor::empty_like(x), c3 = Tensor::ones({3}), c2 = Tensor::ones({2});
  Tensor rm, rv;
  EXPECT_THROW(batch_norm_forward_training(x, c2, c3, 1e-5, 0.1, rm, rv, y, c3, c3), Error);
  Tensor x3 = Tensor::zeros({2, 3, 4});
  Tensor y3 = Tensor::empty_like(x3);
  EXPECT_THROW(batch_norm_forward_training(x3, c3, c3, 1e-5, 0.1, rm, rv, y3, c3, c3), Error);
}

// ---------------------------------------------------------------- pooling

Tensor naive_avg_pool(const Tensor& x, const Pool2dGeometry& g) {
  Shape ys = pool2d_output_shape(x.shape(), g);
  const Shape& s = x.shape();
  std::vector<double> xv = x.to_vector<double>(), y;
  for (int64_t pl = 0; pl < s[0] * s[1]; ++pl)
    for (int64_t u = 0; u < ys[2]; ++u)
      for (int64_t v = 0; v < ys[3]; ++v) {
        double sum = 0;
        int cnt = 0;
        for (int64_t i = u * g.stride_h - g.pad_h; i < u * g.stride_h - g.pad_h + g.kernel_h; ++i)
          for (int64_t j = v * g.stride_w - g.pad_w; j < v * g.stride_w - g.pad_w + g.kernel_w; ++j)
            if (i >= 0 && i < s[2] && j >= 0 && j < s[3]) sum += xv[(pl * s[2] + i) * s[3] + j], ++cnt;
        y.push_back(sum / cnt);
      }
  return Tensor::from_doubles(y, ys, DType::f64);
}

Tensor naive_max_pool(const Tensor& x, const Pool2dGeometry& g) {
  Shape ys = pool2d_output_shape(x.shape(), g);
  const Shape& s = x.shape();
  std::vector<double> xv = x.to_vector<double>(), y;
  for (int64_t pl = 0; pl < s[0] * s[1]; ++pl)
    for (int64_t u = 0; u < ys[2]; ++u)
      for (int64_t v = 0; v < ys[3]; ++v) {
        double best = -INFINITY;
        for (int64_t i = u * g.stride_h - g.pad_h; i < u * g.stride_h - g.pad_h + g.kernel_h; ++i)
          for (int64_t j = v * g.stride_w - g.pad_w; j < v * g.stride_w - g.pad_w + g.kernel_w; ++j)
            if (i >= 0 && i < s[2] && j >= 0 && j < s[3]) best = std::max(best, xv[(pl * s[2] + i) * s[3] + j]);
        y.push_back(best);
      }
  return Tensor::from_doubles(y, ys, DType::f64);
}

const std::vector<std::pair<Shape, Pool2dGeometry>> kPoolCases = {
    {{2, 3, 4, 6}, Pool2dGeometry::make(2, 2)},
    {{1, 2, 7, 5}, Pool2dGeometry::make(3, 2, 1)},
    {{2, 1, 6, 6}, Pool2dGeometry::make(3, 1, 1)},
    {{1, 1, 5, 9}, {2, 3, 2, 1, 0, 1}},
};

TEST(Pool, ForwardMatchesNaive) {
  int seed = 1;
  for (DType dt : kFloatTypes)
    for (const auto& [s, g] : kPoolCases) {
      Tensor x = random_tensor(s, dt, seed++);
      Shape ys = pool2d_output_shape(s, g);
      Tensor ya = Tensor::empty(ys, dt), ym = Tensor::empty(ys, dt), idx = Tensor::empty(ys, DType::i32);
      avg_pool2d_forward(x, ya, g);
      max_pool2d_forward(x, ym, idx, g);
      EXPECT_TENSOR_NEAR(ya, naive_avg_pool(x, g).to(dt), 1e-6, 1e-6) << s.str();
      EXPECT_TENSOR_NEAR(ym, naive_max_pool(x, g).to(dt), 0, 0) << s.str();
      // The gather at the recorded indices reproduces the max.
      Tensor gathered = Tensor::empty(ys, dt);
      max_pool2d_gather(x, idx, gathered);
      EXPECT_TENSOR_NEAR(gathered, ym, 0, 0);
    }
}

TEST(Pool, BackwardPassesAreAdjoints) {
  int seed = 50;
  for (const auto& [s, g] : kPoolCases) {
    Tensor x = random_tensor(s, DType::f64, seed++);
    Shape ys = pool2d_output_shape(s, g);
    Tensor gy = random_tensor(ys, DType::f64, seed++);
    Tensor y = Tensor::empty(ys, DType::f64), gx = Tensor::empty(s, DType::f64);
    avg_pool2d_forward(x, y, g);
    avg_pool2d_backward(gy, gx, g);
    EXPECT_NEAR(dot(y, gy), dot(x, gx), 1e-12) << "avg " << s.str();
    // Max pool with the indices fixed is linear: gather and scatter are adjoint.
    Tensor idx = Tensor::empty(ys, DType::i32), ym = Tensor::empty(ys, DType::f64);
    max_pool2d_forward(x, ym, idx, g);
    Tensor z = random_tensor(s, DType::f64, seed++), zg = Tensor::empty(ys, DType::f64);
    max_pool2d_gather(z, idx, zg);
    max_pool2d_backward(gy, idx, gx, g);
    EXPECT_NEAR(dot(zg, gy), dot(z, gx), 1e-12) << "max " << s.str();
  }
}

TEST(Pool, UpsampleAndItsAdjoint) {
  for (DType dt : kFloatTypes) {
    Tensor x = random_tensor({2, 3, 4, 5}, dt, 7);
    Tensor y = Tensor::empty({2, 3, 8, 10}, dt);
    upsample_nearest2x(x, y);
    std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
    for (int pl = 0; pl < 6; ++pl)
      for (int u = 0; u < 8; ++u)
        for (int v = 0; v < 10; ++v) ASSERT_EQ(yv[(pl * 8 + u) * 10 + v], xv[(pl * 4 + u / 2) * 5 + v / 2]);
  }
  Tensor x = random_tensor({1, 2, 3, 3}, DType::f64, 8), gy = random_tensor({1, 2, 6, 6}, DType::f64, 9);
  Tensor y = Tensor::empty({1, 2, 6, 6}, DType::f64), gx = Tensor::empty({1, 2, 3, 3}, DType::f64);
  upsample_nearest2x(x, y);
  upsample_nearest2x_backward(gy, gx);
  EXPECT_NEAR(dot(y, gy), dot(x, gx), 1e-12);
}

TEST(Pool, InvalidGeometryIsRejected) {
  EXPECT_THROW(pool2d_output_shape({1, 1, 4, 4}, Pool2dGeometry::make(2, 2, 2)), Error);  // pad >= kernel
  EXPECT_THROW(pool2d_output_shape({1, 1, 1, 1}, Pool2dGeometry::make(3, 1, 0)), Error);  // window too big
  EXPECT_THROW(pool2d_output_shape({1, 4, 4}, Pool2dGeometry::make(2, 2)), Error);
}

// ---------------------------------------------------------------- Adam

TEST(Adam, UpdateMatchesTheFormula) {
  for (DType dt : kFloatTypes) {
    Tensor p = random_tensor({50}, dt, 1), g = random_tensor({50}, dt, 2);
    Tensor m = random_tensor({50}, dt, 3), v = random_tensor({50}, dt, 4, 0.1, 1), dir = Tensor::empty({50}, dt);
    std::vector<double> pv = p.to_vector<double>(), gv = g.to_vector<double>(), mv = m.to_vector<double>(),
                        vv = v.to_vector<double>();
    AdamParams ap{0.5, 0.999, 1e-8, 3};
    adam_update(p, g, m, v, dir, 0.01, ap);
    std::vector<double> pn = p.to_vector<double>(), dn = dir.to_vector<double>();
    for (int i = 0; i < 50; ++i) {
      double mi = 0.5 * mv[i] + 0.5 * gv[i], vi = 0.999 * vv[i] + 0.001 * gv[i] * gv[i];
      double d = (mi / (1 - std::pow(0.5, 3))) / (std::sqrt(vi / (1 - std::pow(0.999, 3))) + 1e-8);
      EXPECT_NEAR(dn[i], d, dt == DType::f64 ? 1e-12 : 1e-4);
      EXPECT_NEAR(pn[i], pv[i] - 0.01 * d, dt == DType::f64 ? 1e-12 : 1e-5);
    }
  }
}

// ---------------------------------------------------------------- CUDA vs CPU

class NormPoolCuda : public testing::CudaTest {};

TEST_F(NormPoolCuda, BatchNormMatchesCpu) {
  Device dev = Device::cuda();
  for (DType dt : kFloatTypes)
    for (Shape s : {Shape{8, 3, 5, 5}, Shape{64, 16}, Shape{2, 4, 33, 17}}) {
      const int64_t c = s[1];
      const double tol = dt == DType::f64 ? 1e-11 : 1e-5;
      Tensor x = random_tensor(s, dt, 1), gamma = random_tensor({c}, dt, 2), beta = random_tensor({c}, dt, 3);
      Tensor gy = random_tensor(s, dt, 4);
      Tensor rm = Tensor::zeros({c}, dt), rv = Tensor::ones({c}, dt);
      Tensor rmg = rm.to(dev), rvg = rv.to(dev);
      Tensor y = Tensor::empty_like(x), m = Tensor::empty({c}, dt), inv = Tensor::empty({c}, dt);
      Tensor yg = Tensor::empty(s, dt, dev), mg = Tensor::empty({c}, dt, dev), ig = Tensor::empty({c}, dt, dev);
      batch_norm_forward_training(x, gamma, beta, 1e-3, 0.1, rm, rv, y, m, inv);
      batch_norm_forward_training(x.to(dev), gamma.to(dev), beta.to(dev), 1e-3, 0.1, rmg, rvg, yg, mg, ig);
      EXPECT_TENSOR_NEAR(yg, y, tol, tol);
      EXPECT_TENSOR_NEAR(rmg, rm, tol, tol);
      EXPECT_TENSOR_NEAR(rvg, rv, tol, tol);
      Tensor gx = Tensor::empty_like(x), gg = Tensor::empty({c}, dt), gb = Tensor::empty({c}, dt);
      Tensor gxg = Tensor::empty(s, dt, dev), ggg = Tensor::empty({c}, dt, dev), gbg = Tensor::empty({c}, dt, dev);
      batch_norm_backward(gy, x, gamma, m, inv, gx, gg, gb);
      batch_norm_backward(gy.to(dev), x.to(dev), gamma.to(dev), mg, ig, gxg, ggg, gbg);
      EXPECT_TENSOR_NEAR(gxg, gx, tol * 10, tol * 10);
      EXPECT_TENSOR_NEAR(ggg, gg, tol * 10, tol * 10);
      EXPECT_TENSOR_NEAR(gbg, gb, tol * 10, tol * 10);
      Tensor yi = Tensor::empty_like(x), yig = Tensor::empty(s, dt, dev);
      batch_norm_forward_inference(x, gamma, beta, rm, rv, 1e-3, yi);
      batch_norm_forward_inference(x.to(dev), gamma.to(dev), beta.to(dev), rm.to(dev), rv.to(dev), 1e-3, yig);
      EXPECT_TENSOR_NEAR(yig, yi, tol, tol);
    }
}

TEST_F(NormPoolCuda, PoolingAndUpsamplingMatchCpu) {
  Device dev = Device::cuda();
  int seed = 80;
  for (DType dt : kFloatTypes)
    for (const auto& [s, g] : kPoolCases) {
      Tensor x = random_tensor(s, dt, seed++);
      Shape ys = pool2d_output_shape(s, g);
      Tensor gy = random_tensor(ys, dt, seed++);
      Tensor a = Tensor::empty(ys, dt), ag = Tensor::empty(ys, dt, dev);
      avg_pool2d_forward(x, a, g);
      avg_pool2d_forward(x.to(dev), ag, g);
      EXPECT_TENSOR_NEAR(ag, a, 1e-6, 1e-6);
      Tensor gx = Tensor::empty(s, dt), gxg = Tensor::empty(s, dt, dev);
      avg_pool2d_backward(gy, gx, g);
      avg_pool2d_backward(gy.to(dev), gxg, g);
      EXPECT_TENSOR_NEAR(gxg, gx, 1e-6, 1e-6);
      Tensor mx = Tensor::empty(ys, dt), mxg = Tensor::empty(ys, dt, dev);
      Tensor idx = Tensor::empty(ys, DType::i32), idxg = Tensor::empty(ys, DType::i32, dev);
      max_pool2d_forward(x, mx, idx, g);
      max_pool2d_forward(x.to(dev), mxg, idxg, g);
      EXPECT_TENSOR_NEAR(mxg, mx, 0, 0);
      EXPECT_EQ(idxg.to_vector<int32_t>(), idx.to_vector<int32_t>());
      max_pool2d_backward(gy, idx, gx, g);
      max_pool2d_backward(gy.to(dev), idxg, gxg, g);
      EXPECT_TENSOR_NEAR(gxg, gx, 1e-6, 1e-6);
    }
  Tensor x = random_tensor({2, 3, 5, 4}, DType::f32, 1);
  Tensor y = Tensor::empty({2, 3, 10, 8}), yg = Tensor::empty({2, 3, 10, 8}, DType::f32, dev);
  upsample_nearest2x(x, y);
  upsample_nearest2x(x.to(dev), yg);
  EXPECT_TENSOR_NEAR(yg, y, 0, 0);
  Tensor gx = Tensor::empty({2, 3, 5, 4}), gxg = Tensor::empty({2, 3, 5, 4}, DType::f32, dev);
  upsample_nearest2x_backward(y, gx);
  upsample_nearest2x_backward(yg, gxg);
  EXPECT_TENSOR_NEAR(gxg, gx, 1e-6, 1e-6);
}

TEST_F(NormPoolCuda, AdamMatchesCpu) {
  Device dev = Device::cuda();
  for (DType dt : kFloatTypes) {
    Tensor p = random_tensor({1000}, dt, 1), g = random_tensor({1000}, dt, 2);
    Tensor m = Tensor::zeros({1000}, dt), v = Tensor::zeros({1000}, dt), dir = Tensor::empty({1000}, dt);
    Tensor pg = p.to(dev), mg = m.to(dev), vg = v.to(dev), dg = Tensor::empty({1000}, dt, dev);
    adam_update(p, g, m, v, dir, 1e-3, {0.5, 0.999, 1e-8, 1});
    adam_update(pg, g.to(dev), mg, vg, dg, 1e-3, {0.5, 0.999, 1e-8, 1});
    EXPECT_TENSOR_NEAR(pg, p, 1e-6, 1e-7);
    EXPECT_TENSOR_NEAR(dg, dir, 1e-5, 1e-6);
  }
}

}  // namespace
}  // namespace odegan::kernels
