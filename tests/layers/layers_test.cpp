// Every layer: output shapes, gradcheck, and gradgradcheck for those that can sit in D
// or G (float64 central differences w.r.t. the input and all parameters), plus
// layer-specific behaviour (running statistics, spectral normalisation, conditioning).
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "autodiff/gradcheck.h"
#include "kernels/matmul.h"
#include "layers/blocks.h"
#include "layers/layers.h"
#include "layers/spectral_norm.h"
#include "tests/common/test_util.h"

namespace odegan::nn {
namespace {

using ad::GradcheckOptions;

// Checks y = layer(x) as a function of x and every parameter (float64).
void check_layer(Module& m, const Shape& in_shape, const Shape& out_shape, bool second_order = true,
                 double kink = 0, std::function<Var(const Var&)> call = nullptr) {
  Generator g(7);
  m.reset_all(g, Init::reference);
  m.to(DType::f64);
  // Perturb default-initialised affine parameters so that nothing is at a special value.
  for (Var& p : m.parameters()) {
    Tensor noise = testing::random_tensor(p.shape(), DType::f64, 8, -0.3, 0.3);
    std::vector<double> a = p.data().to_vector<double>(), b = noise.to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
    p.data().copy_(Tensor::from_vector<double>(a, p.shape()));
  }
  Var x(kink > 0 ? testing::random_away_from_zero(in_shape, DType::f64, 9, 0.05)
                 : testing::random_tensor(in_shape, DType::f64, 9),
        true);
  std::vector<Var> leaves{x};
  for (const Var& p : m.parameters()) leaves.push_back(p);
  auto f = [&] { return call ? call(x) : m(x); };
  ASSERT_EQ(f().shape(), out_shape) << m.type_name();
  GradcheckOptions opt;
  opt.kink = kink;
  ad::GradcheckResult r = ad::gradcheck_leaves(f, leaves, opt);
  EXPECT_TRUE(r.ok) << m.type_name() << " gradcheck: " << r.message;
  if (second_order) {
    ad::GradcheckResult r2 = ad::gradgradcheck_leaves(f, leaves, opt);
    EXPECT_TRUE(r2.ok) << m.type_name() << " gradgradcheck: " << r2.message;
  }
}

TEST(Layers, Linear) {
  Linear l(4, 3);
  check_layer(l, {5, 4}, {5, 3});
  Linear nb(4, 3, false);
  check_layer(nb, {2, 4}, {2, 3});
  EXPECT_THROW(l(Var(Tensor::zeros({2, 5}, DType::f64))), Error);
}

TEST(Layers, Conv2dAndConvTranspose2d) {
  Conv2d c(2, 3, 3, 1, 1);
  check_layer(c, {2, 2, 5, 4}, {2, 3, 5, 4});
  Conv2d s(2, 2, 4, 2, 1);
  check_layer(s, {1, 2, 6, 6}, {1, 2, 3, 3});
  ConvTranspose2d t(3, 2, 4, 2, 1);
  check_layer(t, {2, 3, 3, 2}, {2, 2, 6, 4});
  ConvTranspose2d t3(2, 1, 3, 1, 1);
  check_layer(t3, {1, 2, 4, 4}, {1, 1, 4, 4});
  ConvTranspose2d op(2, 2, 3, 2, 1, 1);
  check_layer(op, {1, 2, 3, 3}, {1, 2, 6, 6});
}

TEST(Layers, BatchNormTrainingAndEval) {
  BatchNorm2d bn(3, 1e-3, 0.1);
  check_layer(bn, {4, 3, 2, 2}, {4, 3, 2, 2});
  BatchNorm1d bn1(5, 1e-3, 0.1);
  check_layer(bn1, {6, 5}, {6, 5});
  // Running statistics move in training mode only.
  BatchNorm1d r(2, 1e-5, 0.5);
  r.to(DType::f64);
  Var x(Tensor::from_vector<double>({1, 10, 3, 20}, {2, 2}));
  r(x);
  EXPECT_EQ(r.running_mean->to_vector<double>(), (std::vector<double>{1.0, 7.5}));
  r.eval();
  Tensor before = r.running_mean->clone();
  Var y = r(x);
  EXPECT_EQ(r.running_mean->to_vector<double>(), before.to_vector<double>());
  // Eval mode normalises with the running statistics.
  const double rv0 = r.running_var->to_vector<double>()[0];
  EXPECT_NEAR(y.data().to_vector<double>()[0], (1 - 1.0) / std::sqrt(rv0 + 1e-5), 1e-12);
  BatchNorm2d eval_bn(3, 1e-3, 0.1);
  eval_bn.eval();
  check_layer(eval_bn, {2, 3, 2, 2}, {2, 3, 2, 2});
}

TEST(Layers, ConditionalBatchNormUsesTheLabelsRows) {
  ConditionalBatchNorm2d cbn(2, 3, 1e-3, 0.1);
  Tensor labels = Tensor::from_vector<int32_t>({2, 0, 2}, {3});
  check_layer(cbn, {3, 2, 2, 2}, {3, 2, 2, 2}, true, 0, [&](const Var& x) { return cbn.forward(x, labels); });
  // Class 1 is unused: its gain and bias receive no gradient.
  Var x(testing::random_tensor({3, 2, 2, 2}, DType::f64, 1));
  std::vector<Var> g = ad::grad(std::vector<Var>{ad::sum(cbn.forward(x, labels))}, std::vector<Var>{cbn.gamma});
  std::vector<double> gg = g[0].data().to_vector<double>();
  EXPECT_EQ(gg[2], 0.0);
  EXPECT_EQ(gg[3], 0.0);
  EXPECT_THROW(cbn.forward(x, Tensor::from_vector<int32_t>({0, 1}, {2})), Error);
}

TEST(Layers, EmbeddingAndParameterFreeLayers) {
  Embedding e(4, 3);
  Tensor idx = Tensor::from_vector<int32_t>({3, 1, 3}, {3});
  check_layer(e, {1}, {3, 3}, true, 0, [&](const Var&) { return e.forward(idx); });
  ReLU relu;
  check_layer(relu, {3, 4}, {3, 4}, true, 1e-3);
  LeakyReLU lrelu(0.1);
  check_layer(lrelu, {3, 4}, {3, 4}, true, 1e-3);
  Tanh tanh_l;
  check_layer(tanh_l, {3, 4}, {3, 4});
  Sigmoid sig;
  check_layer(sig, {3, 4}, {3, 4});
  SiLU silu_l;
  check_layer(silu_l, {3, 4}, {3, 4});
  Upsample up;
  check_layer(up, {1, 2, 2, 3}, {1, 2, 4, 6});
  AvgPool2d pool(2);
  check_layer(pool, {1, 2, 4, 4}, {1, 2, 2, 2});
  GlobalSumPool gsp;
  check_layer(gsp, {2, 3, 2, 2}, {2, 3});
  Flatten fl;
  check_layer(fl, {2, 3, 2, 2}, {2, 12});
  Reshape rs({3, 2});
  check_layer(rs, {4, 6}, {4, 3, 2});
}

TEST(Layers, SequentialComposes) {
  Sequential s({std::make_shared<Linear>(3, 4), std::make_shared<Tanh>(), std::make_shared<Linear>(4, 2)});
  check_layer(s, {5, 3}, {5, 2});
  EXPECT_EQ(s.size(), 3u);
}

TEST(Layers, ResidualBlocks) {
  GBlock up(2, 3);
  check_layer(up, {2, 2, 2, 2}, {2, 3, 4, 4});
  BlockOptions cond;
  cond.num_classes = 3;
  GBlock cup(2, 2, cond);
  Tensor labels = Tensor::from_vector<int32_t>({1, 2}, {2});
  check_layer(cup, {2, 2, 2, 2}, {2, 2, 4, 4}, true, 0, [&](const Var& x) { return cup.forward(x, labels); });
  DBlock down(2, 3, true);
  check_layer(down, {2, 2, 4, 4}, {2, 3, 2, 2}, true, 1e-3);
  DBlock plain(3, 3, false);
  check_layer(plain, {1, 3, 2, 2}, {1, 3, 2, 2}, true, 1e-3);
  DBlock first(3, 2, true, true);
  check_layer(first, {2, 3, 4, 4}, {2, 2, 2, 2}, true, 1e-3);
  EXPECT_EQ(first.type_name(), "OptimizedDBlock");
}

TEST(Layers, SpectralNormNormalisesTheLargestSingularValue) {
  auto lin = std::make_shared<Linear>(6, 4, true, DType::f64);
  SpectralNorm sn(lin);
  Generator g(3);
  sn.reset_all(g, Init::reference);
  sn.to(DType::f64);
  // Power iterations converge to sigma_max; after many training forwards, W / sigma has
  // spectral norm 1: check ||W_sn v||/||v|| <= 1 for random v and ~1 at the top vector.
  Var x(testing::random_tensor({2, 6}, DType::f64, 1));
  for (int i = 0; i < 200; ++i) sn(x);
  Var w_sn = sn.normalized(lin->weight());
  // sigma(W_sn) from the converged u, v: u^T W_sn v = 1.
  Tensor wv = kernels::matmul(w_sn.data(), *sn.v);
  double uwv = 0;
  std::vector<double> a = wv.to_vector<double>(), u = sn.u->to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) uwv += a[i] * u[i];
  EXPECT_NEAR(uwv, 1.0, 1e-6);
  for (int trial = 0; trial < 20; ++trial) {
    Tensor r = testing::random_tensor({6, 1}, DType::f64, 100 + trial);
    Tensor y = kernels::matmul(w_sn.data(), r);
    double ny = 0, nr = 0;
    for (double v : y.to_vector<double>()) ny += v * v;
    for (double v : r.to_vector<double>()) nr += v * v;
    EXPECT_LE(std::sqrt(ny / nr), 1.0 + 1e-6);
  }
  // The u vector is a saved buffer.
  bool has_u = false;
  for (auto& [n, b] : sn.named_buffers()) has_u = has_u || n == "u";
  EXPECT_TRUE(has_u);
  // Gradients through W / sigma(W) with u, v fixed (eval mode: no power iteration).
  sn.eval();
  std::vector<Var> leaves{lin->weight(), lin->bias()};
  Var xin(testing::random_tensor({3, 6}, DType::f64, 5));
  auto f = [&] { return sn(xin); };
  EXPECT_TRUE(ad::gradcheck_leaves(f, leaves).ok);
  EXPECT_TRUE(ad::gradgradcheck_leaves(f, leaves).ok);
}

}  // namespace
}  // namespace odegan::nn
