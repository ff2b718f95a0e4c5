// The paper's regulariser g_theta = grad_theta ||d l_G / d phi||^2 (a gradient of a
// gradient through D's input gradient and G's backward, batch norm included) against
// central differences of ||d l_G / d phi||^2 in float64, for an MLP GAN and a conv GAN
// with batch norm in G; and the velocity against differences of the losses. On every
// device; on CUDA also g_theta and v against the CPU's.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "core/rng.h"
#include "kernels/reduce.h"
#include "layers/layers.h"
#include "solvers/gan_game.h"
#include "solvers/stepper.h"
#include "tests/common/device_test.h"
#include "tests/common/test_util.h"

namespace odegan::solvers {
namespace {

using nn::Sequential;
using std::make_shared;

struct GanSetup {
  std::shared_ptr<nn::Module> g, d;
  Batch batch;
  int64_t latent;
};

GanSetup mlp_gan() {
  const DType t = DType::f64;
  auto g = make_shared<Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      make_shared<nn::Linear>(3, 5, true, t), make_shared<nn::ReLU>(), make_shared<nn::Linear>(5, 2, true, t)});
  auto d = make_shared<Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      make_shared<nn::Linear>(2, 6, true, t), make_shared<nn::Tanh>(), make_shared<nn::Linear>(6, 4, true, t),
      make_shared<nn::LeakyReLU>(0.2), make_shared<nn::Linear>(4, 1, true, t)});
  Generator gen(3);
  g->reset_all(gen, nn::Init::reference);
  d->reset_all(gen, nn::Init::reference);
  Batch b;
  b.real = testing::random_tensor({6, 2}, t, 10);
  b.z = testing::random_tensor({6, 3}, t, 11);
  return {g, d, b, 3};
}

// The players and the batch on `device` (the game's state is then there too).
GanSetup on(GanSetup s, Device device) {
  s.g->to(device);
  s.d->to(device);
  s.batch.real = s.batch.real.to(device);
  s.batch.z = s.batch.z.to(device);
  return s;
}

GanSetup conv_gan() {
  const DType t = DType::f64;
  auto g = make_shared<Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      make_shared<nn::Linear>(4, 3 * 2 * 2, true, t), make_shared<nn::Reshape>(std::vector<int64_t>{3, 2, 2}),
      make_shared<nn::ConvTranspose2d>(3, 2, 4, 2, 1, 0, true, t), make_shared<nn::BatchNorm2d>(2, 1e-3, 0.1, true, t),
      make_shared<nn::ReLU>(), make_shared<nn::ConvTranspose2d>(2, 1, 3, 1, 1, 0, true, t), make_shared<nn::Tanh>()});
  auto d = make_shared<Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      make_shared<nn::Conv2d>(1, 2, 3, 1, 1, true, t), make_shared<nn::LeakyReLU>(0.1),
      make_shared<nn::Conv2d>(2, 2, 4, 2, 1, true, t), make_shared<nn::LeakyReLU>(0.1), make_shared<nn::Flatten>(),
      make_shared<nn::Linear>(8, 1, true, t)});
  Generator gen(5);
  g->reset_all(gen, nn::Init::reference);
  d->reset_all(gen, nn::Init::reference);
  // Non-trivial batch-norm affine parameters.
  for (auto& [name, p] : g->named_parameters())
    if (name == "3.weight") p.data().copy_(testing::random_tensor(p.shape(), t, 21, 0.5, 1.5));
  Batch b;
  b.real = testing::random_tensor({3, 1, 4, 4}, t, 12);
  b.z = testing::random_tensor({3, 4}, t, 13);
  return {g, d, b, 4};
}

// ||d l_G / d phi||^2 at the game's current state (first-order gradients only).
double reg_value(GanGame& game, const Batch& b) {
  Tensor v = Tensor::empty_like(game.state());
  game.velocity(b, v);
  Tensor vp = v.slice(game.num_theta(), v.numel());
  return kernels::sum_squares(vp).item();
}

// g_theta and the first velocity at the game's state (the start of a step).
std::pair<Tensor, Tensor> regulariser(GanSetup s) {
  GameOptions opt;
  opt.reg_lambda = 1.0;
  Batch fixed = s.batch;
  GanGame game(Players::unconditional(s.g, s.d), [&] { return fixed; }, opt);
  Tensor g_theta = Tensor::empty({game.num_theta()}, DType::f64, game.state().device());
  Tensor v = Tensor::empty_like(game.state());
  game.regulariser_and_velocity(fixed, g_theta, v, nullptr);
  return {g_theta, v};
}

void check_regulariser(GanSetup (*make)(), Device device) {
  GanSetup s = on(make(), device);
  if (device.is_cuda()) {
    auto [g_dev, v_dev] = regulariser(s);
    auto [g_cpu, v_cpu] = regulariser(make());
    const double scale_g = std::sqrt(kernels::sum_squares(g_cpu).item()), scale_v = std::sqrt(kernels::sum_squares(v_cpu).item());
    EXPECT_TENSOR_NEAR(g_dev, g_cpu, 1e-10, 1e-12 * scale_g);
    EXPECT_TENSOR_NEAR(v_dev, v_cpu, 1e-10, 1e-12 * scale_v);
  }
  GameOptions opt;
  opt.reg_lambda = 1.0;
  Batch fixed = s.batch;
  GanGame game(Players::unconditional(s.g, s.d), [&] { return fixed; }, opt);
  ASSERT_EQ(game.state().device(), device);
  Tensor g_theta = Tensor::empty({game.num_theta()}, DType::f64, device);
  Tensor v = Tensor::empty_like(game.state());
  StepStats stats;
  game.regulariser_and_velocity(fixed, g_theta, v, &stats);
  std::vector<double> analytic = g_theta.to_vector<double>();
  Tensor theta = game.theta();
  std::vector<double> p = theta.to_vector<double>();
  const double h = 1e-6;
  double worst = 0;
  for (int64_t i = 0; i < game.num_theta(); ++i) {
    const double x0 = p[i];
    testing::set_element(theta, i, x0 + h);
    const double up = reg_value(game, fixed);
    testing::set_element(theta, i, x0 - h);
    const double down = reg_value(game, fixed);
    testing::set_element(theta, i, x0);
    const double numeric = (up - down) / (2 * h);
    worst = std::max(worst, std::fabs(numeric - analytic[i]));
    EXPECT_NEAR(analytic[i], numeric, 1e-6 + 1e-5 * std::fabs(numeric)) << "theta[" << i << "]";
  }
  // The norm reported with the step is that of the analytic gradient, and non-trivial.
  EXPECT_GT(stats.reg_norm, 1e-4);
  EXPECT_NEAR(stats.grad_norm_g * stats.grad_norm_g, reg_value(game, fixed), 1e-10);
}

class GameOnDevice : public testing::DeviceTest {};
ODEGAN_INSTANTIATE_DEVICES(GameOnDevice);

TEST_P(GameOnDevice, MlpGanRegulariserMatchesFiniteDifferences) { check_regulariser(mlp_gan, device()); }
TEST_P(GameOnDevice, ConvGanWithBatchNormRegulariserMatchesFiniteDifferences) {
  check_regulariser(conv_gan, device());
}

TEST_P(GameOnDevice, VelocityIsMinusTheLossGradients) {
  // v = -[d l_D / d theta, d l_G / d phi]: compare with differences of the losses.
  GanSetup s = on(mlp_gan(), device());
  Batch fixed = s.batch;
  GanGame game(Players::unconditional(s.g, s.d), [&] { return fixed; }, GameOptions{});
  Tensor v = Tensor::empty_like(game.state());
  StepStats st;
  game.velocity(fixed, v, &st);
  std::vector<double> vv = v.to_vector<double>();
  std::vector<double> p = game.state().to_vector<double>();
  auto losses = [&] {
    StepStats t;
    Tensor tmp = Tensor::empty_like(game.state());
    game.velocity(fixed, tmp, &t);
    return std::pair<double, double>{t.loss_d, t.loss_g};
  };
  const double h = 1e-6;
  for (int64_t i = 0; i < game.state().numel(); ++i) {
    const double x0 = p[i];
    testing::set_element(game.state(), i, x0 + h);
    auto up = losses();
    testing::set_element(game.state(), i, x0 - h);
    auto down = losses();
    testing::set_element(game.state(), i, x0);
    const bool is_theta = i < game.num_theta();
    const double numeric = -((is_theta ? up.first : up.second) - (is_theta ? down.first : down.second)) / (2 * h);
    EXPECT_NEAR(vv[i], numeric, 1e-7) << (is_theta ? "theta" : "phi") << " " << i;
  }
  EXPECT_NEAR(st.loss_d, losses().first, 1e-14);
}

TEST(GanGame, RegulariserMovesOnlyTheDiscriminator) {
  // One Euler step with lambda > 0 differs from lambda = 0 by -h lambda g_theta in theta only.
  auto run = [](double lambda) {
    GanSetup s = mlp_gan();
    Batch fixed = s.batch;
    GameOptions opt;
    opt.reg_lambda = lambda;
    GanGame game(Players::unconditional(s.g, s.d), [&] { return fixed; }, opt);
    make_stepper("euler")->step(game, 0.1);
    return std::pair<Tensor, int64_t>{game.state().clone(), game.num_theta()};
  };
  auto [with, nt] = run(0.5);
  auto [without, nt2] = run(0.0);
  std::vector<double> a = with.to_vector<double>(), b = without.to_vector<double>();
  bool theta_moved = false;
  for (int64_t i = 0; i < static_cast<int64_t>(a.size()); ++i) {
    if (i < nt) theta_moved = theta_moved || a[i] != b[i];
    else
      EXPECT_EQ(a[i], b[i]) << "phi changed at " << i;
  }
  EXPECT_TRUE(theta_moved);
  (void)nt2;
}

}  // namespace
}  // namespace odegan::solvers
