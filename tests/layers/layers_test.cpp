// Every layer, on every device: output shapes, gradcheck, and gradgradcheck for those that
// can sit in D or G (float64 central differences w.r.t. the input and all parameters, on
// the device), on CUDA also the value and derivatives against the CPU's; plus
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
#include "tests/common/device_test.h"
#include "tests/common/module_check.h"
#include "tests/common/test_util.h"

namespace odegan::nn {
namespace {

using ad::GradcheckOptions;

// Calls the layer on x; layers with labels place them on x's device.
using LayerCall = std::function<Var(const Var& x)>;

// Checks y = layer(x) as a function of x and every parameter (float64) on `device`.
void check_layer(Module& m, const Shape& in_shape, const Shape& out_shape, Device device, bool second_order = true,
                 double kink = 0, LayerCall call = nullptr) {
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
  std::vector<Var> in{Var(kink > 0 ? testing::random_away_from_zero(in_shape, DType::f64, 9, 0.05)
                                   : testing::random_tensor(in_shape, DType::f64, 9),
                          true)};
  auto f = [&] { return call ? call(in[0]) : m(in[0]); };
  ASSERT_EQ(f().shape(), out_shape) << m.type_name();
  if (device.is_cuda()) {
    ad::CompareOptions co;
    co.order = second_order ? 2 : 1;
    ad::GradcheckResult r = testing::compare_module_devices(m, in, f, device, co);
    EXPECT_TRUE(r.ok) << r.message;
  } else {
    m.to(device);
  }
  std::vector<Var> leaves{in[0]};
  for (const Var& p : m.parameters()) leaves.push_back(p);
  GradcheckOptions opt;
  opt.kink = kink;
  ad::GradcheckResult r = ad::gradcheck_leaves(f, leaves, opt);
  EXPECT_TRUE(r.ok) << m.type_name() << " gradcheck on " << device.str() << ": " << r.message;
  if (second_order) {
    ad::GradcheckResult r2 = ad::gradgradcheck_leaves(f, leaves, opt);
    EXPECT_TRUE(r2.ok) << m.type_name() << " gradgradcheck on " << device.str() << ": " << r2.message;
  }
}

class Layers : public testing::DeviceTest {
 protected:
  void check(Module& m, const Shape& in_shape, const Shape& out_shape, bool second_order = true, double kink = 0,
             LayerCall call = nullptr) {
    check_layer(m, in_shape, out_shape, device(), second_order, kink, call);
  }
};
ODEGAN_INSTANTIATE_DEVICES(Layers);

TEST_P(Layers, Linear) {
  Linear l(4, 3);
  check(l, {5, 4}, {5, 3});
  Linear nb(4, 3, false);
  check(nb, {2, 4}, {2, 3});
  EXPECT_THROW(l(Var(Tensor::zeros({2, 5}, DType::f64, device()))), Error);
}

TEST_P(Layers, Conv2dAndConvTranspose2d) {
  Conv2d c(2, 3, 3, 1, 1);
  check(c, {2, 2, 5, 4}, {2, 3, 5, 4});
  Conv2d s(2, 2, 4, 2, 1);
  check(s, {1, 2, 6, 6}, {1, 2, 3, 3});
  ConvTranspose2d t(3, 2, 4, 2, 1);
  check(t, {2, 3, 3, 2}, {2, 2, 6, 4});
  ConvTranspose2d t3(2, 1, 3, 1, 1);
  check(t3, {1, 2, 4, 4}, {1, 1, 4, 4});
  ConvTranspose2d op(2, 2, 3, 2, 1, 1);
  check(op, {1, 2, 3, 3}, {1, 2, 6, 6});
}

TEST_P(Layers, BatchNormTrainingAndEval) {
  BatchNorm2d bn(3, 1e-3, 0.1);
  check(bn, {4, 3, 2, 2}, {4, 3, 2, 2});
  BatchNorm1d bn1(5, 1e-3, 0.1);
  check(bn1, {6, 5}, {6, 5});
  // Running statistics move in training mode only.
  BatchNorm1d r(2, 1e-5, 0.5);
  r.to(DType::f64);
  r.to(device());
  Var x(Tensor::from_vector<double>({1, 10, 3, 20}, {2, 2}, device()));
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
  check(eval_bn, {2, 3, 2, 2}, {2, 3, 2, 2});
}

TEST_P(Layers, ConditionalBatchNormUsesTheLabelsRows) {
  ConditionalBatchNorm2d cbn(2, 3, 1e-3, 0.1);
  Tensor labels = Tensor::from_vector<int32_t>({2, 0, 2}, {3});
  check(cbn, {3, 2, 2, 2}, {3, 2, 2, 2}, true, 0,
        [&](const Var& x) { return cbn.forward(x, labels.to(x.device())); });
  // Class 1 is unused: its gain and bias receive no gradient.
  Var x(rnd({3, 2, 2, 2}, 1));
  std::vector<Var> g =
      ad::grad(std::vector<Var>{ad::sum(cbn.forward(x, labels.to(device())))}, std::vector<Var>{cbn.gamma});
  std::vector<double> gg = g[0].data().to_vector<double>();
  EXPECT_EQ(gg[2], 0.0);
  EXPECT_EQ(gg[3], 0.0);
  EXPECT_THROW(cbn.forward(x, Tensor::from_vector<int32_t>({0, 1}, {2}, device())), Error);
}

TEST_P(Layers, EmbeddingAndParameterFreeLayers) {
  Embedding e(4, 3);
  Tensor idx = Tensor::from_vector<int32_t>({3, 1, 3}, {3});
  check(e, {1}, {3, 3}, true, 0, [&](const Var& x) { return e.forward(idx.to(x.device())); });
  ReLU relu;
  check(relu, {3, 4}, {3, 4}, true, 1e-3);
  LeakyReLU lrelu(0.1);
  check(lrelu, {3, 4}, {3, 4}, true, 1e-3);
  Tanh tanh_l;
  check(tanh_l, {3, 4}, {3, 4});
  Sigmoid sig;
  check(sig, {3, 4}, {3, 4});
  SiLU silu_l;
  check(silu_l, {3, 4}, {3, 4});
  Upsample up;
  check(up, {1, 2, 2, 3}, {1, 2, 4, 6});
  AvgPool2d pool(2);
  check(pool, {1, 2, 4, 4}, {1, 2, 2, 2});
  GlobalSumPool gsp;
  check(gsp, {2, 3, 2, 2}, {2, 3});
  Flatten fl;
  check(fl, {2, 3, 2, 2}, {2, 12});
  Reshape rs({3, 2});
  check(rs, {4, 6}, {4, 3, 2});
}

TEST_P(Layers, SequentialComposes) {
  Sequential s({std::make_shared<Linear>(3, 4), std::make_shared<Tanh>(), std::make_shared<Linear>(4, 2)});
  check(s, {5, 3}, {5, 2});
  EXPECT_EQ(s.size(), 3u);
}

TEST_P(Layers, ResidualBlocks) {
  GBlock up(2, 3);
  check(up, {2, 2, 2, 2}, {2, 3, 4, 4});
  BlockOptions cond;
  cond.num_classes = 3;
  GBlock cup(2, 2, cond);
  Tensor labels = Tensor::from_vector<int32_t>({1, 2}, {2});
  check(cup, {2, 2, 2, 2}, {2, 2, 4, 4}, true, 0,
        [&](const Var& x) { return cup.forward(x, labels.to(x.device())); });
  DBlock down(2, 3, true);
  check(down, {2, 2, 4, 4}, {2, 3, 2, 2}, true, 1e-3);
  DBlock plain(3, 3, false);
  check(plain, {1, 3, 2, 2}, {1, 3, 2, 2}, true, 1e-3);
  DBlock first(3, 2, true, true);
  check(first, {2, 3, 4, 4}, {2, 2, 2, 2}, true, 1e-3);
  EXPECT_EQ(first.type_name(), "OptimizedDBlock");
}

TEST_P(Layers, SpectralNormNormalisesTheLargestSingularValue) {
  auto lin = std::make_shared<Linear>(6, 4, true, DType::f64);
  SpectralNorm sn(lin);
  Generator g(3);
  sn.reset_all(g, Init::reference);
  sn.to(DType::f64);
  if (on_cuda()) {
    // The training forward (one power iteration, then W / sigma) against the CPU's, from
    // the same u; then the rest of the test runs on the device.
    std::vector<Var> in{Var(testing::random_tensor({3, 6}, DType::f64, 4), true)};
    ad::GradcheckResult r = testing::compare_module_devices(sn, in, [&] { return sn(in[0]); }, device());
    EXPECT_TRUE(r.ok) << r.message;
  }
  sn.to(device());
  // Power iterations converge to sigma_max; after many training forwards, W / sigma has
  // spectral norm 1: check ||W_sn v||/||v|| <= 1 for random v and ~1 at the top vector.
  Var x(rnd({2, 6}, 1));
  for (int i = 0; i < 200; ++i) sn(x);
  Var w_sn = sn.normalized(lin->weight());
  // sigma(W_sn) from the converged u, v: u^T W_sn v = 1.
  Tensor wv = kernels::matmul(w_sn.data(), *sn.v);
  double uwv = 0;
  std::vector<double> a = wv.to_vector<double>(), u = sn.u->to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) uwv += a[i] * u[i];
  EXPECT_NEAR(uwv, 1.0, 1e-6);
  for (int trial = 0; trial < 20; ++trial) {
    Tensor r = rnd({6, 1}, 100 + trial);
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
  Var xin(rnd({3, 6}, 5));
  auto f = [&] { return sn(xin); };
  EXPECT_TRUE(ad::gradcheck_leaves(f, leaves).ok);
  EXPECT_TRUE(ad::gradgradcheck_leaves(f, leaves).ok);
}

TEST(ModuleCheck, BothRunsStartFromTheSameBuffers) {
  // Spectral norm's training forward advances its u vector. The device comparison restores
  // buffers between its two runs, so the CPU against itself agrees exactly; two runs
  // without the restore differ, and compare() says so.
  auto lin = std::make_shared<Linear>(5, 3, true, DType::f64);
  SpectralNorm sn(lin);
  Generator g(4);
  sn.reset_all(g, Init::reference);
  sn.to(DType::f64);
  std::vector<Var> in{Var(testing::random_tensor({2, 5}, DType::f64, 6), true)};
  auto f = [&] { return sn(in[0]); };
  ad::GradcheckResult same = testing::compare_module_devices(sn, in, f, Device::cpu());
  EXPECT_TRUE(same.ok) << same.message;
  EXPECT_EQ(same.max_abs_error, 0.0);
  EXPECT_EQ(same.checked, 6 + 2 * (2 * 5 + 15 + 3) + 6);  // value; first and second (x, W, b); second w.r.t. v
  std::vector<Var> leaves{in[0], lin->weight(), lin->bias()};
  ad::Derivatives a = ad::derivatives(f, leaves), b = ad::derivatives(f, leaves);
  ad::GradcheckResult differ = ad::compare(a, b);
  EXPECT_FALSE(differ.ok);
  EXPECT_NE(differ.message.find("value"), std::string::npos) << differ.message;
}

}  // namespace
}  // namespace odegan::nn
