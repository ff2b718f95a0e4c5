// Training steps on every device: one whole RK4 + regulariser step of a DCGAN against its
// definition (four velocities combined by hand, minus h lambda g_theta) and, on CUDA,
// against the same step on the CPU (same start point, same batch); Adam over several steps
// and SGD against a textbook reference computed here; the rotating toy game and a
// Runge-Kutta integration with the state on the device; and deterministic mode (two runs
// of the same training give identical bits).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/config.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "layers/models/dcgan.h"
#include "solvers/butcher.h"
#include "solvers/gan_game.h"
#include "solvers/stepper.h"
#include "solvers/optimizers.h"
#include "solvers/runge_kutta.h"
#include "solvers/toy_game.h"
#include "tests/common/device_test.h"

namespace odegan::solvers {
namespace {

using testing::DeviceTest;
using testing::Tolerance;

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

// A reduced DCGAN pair (batch norm in G, strided convolutions in D) and one fixed batch,
// on `device`, in `dtype`; the same seed gives the same start point on every device.
struct DcganGame {
  std::shared_ptr<nn::Module> g, d;
  Batch batch;
  std::unique_ptr<GanGame> game;
};

std::unique_ptr<DcganGame> dcgan_game(Device device, DType dtype, double lambda) {
  auto s = std::make_unique<DcganGame>();
  nn::models::DcganOptions o;
  o.latent = 4;
  o.width = 1.0 / 64;
  o.image_size = 8;
  o.image_channels = 1;
  s->g = nn::models::dcgan_generator(o);
  s->d = nn::models::dcgan_discriminator(o);
  Generator gen(21);
  s->g->reset_all(gen, nn::Init::reference);
  s->d->reset_all(gen, nn::Init::reference);
  for (auto* m : {s->g.get(), s->d.get()}) {
    m->to(dtype);
    m->to(device);
  }
  s->batch.real = testing::random_tensor({3, 1, 8, 8}, dtype, 22, -1, 1, device);
  s->batch.z = testing::random_tensor({3, 4}, dtype, 23, -1, 1, device);
  GameOptions opt;
  opt.reg_lambda = lambda;
  Batch fixed = s->batch;
  s->game = std::make_unique<GanGame>(Players::unconditional(s->g, s->d), [fixed] { return fixed; }, opt);
  return s;
}

class StepOnDevice : public DeviceTest {};
ODEGAN_INSTANTIATE_DEVICES(StepOnDevice);

TEST_P(StepOnDevice, DcganRk4PlusRegulariserStepIsItsDefinition) {
  const double h = 0.04, lambda = 0.5;
  auto s = dcgan_game(device(), DType::f64, lambda);
  GanGame& game = *s->game;
  ASSERT_EQ(game.state().device(), device());
  const Tensor y0 = game.state().clone();
  // The definition: g at the start point, k1..k4 of classical RK4, then theta -= h lambda g.
  Tensor g = Tensor::empty({game.num_theta()}, DType::f64, device());
  Tensor k1 = Tensor::empty_like(y0), k2 = Tensor::empty_like(y0), k3 = Tensor::empty_like(y0),
         k4 = Tensor::empty_like(y0), y = Tensor::empty_like(y0);
  game.regulariser_and_velocity(s->batch, g, k1, nullptr);
  auto velocity_at = [&](const Tensor& point, Tensor& k) {
    game.state().copy_(point);
    game.velocity(s->batch, k);
  };
  kernels::lincomb(y, 1.0, y0, {{h / 2, k1}});
  velocity_at(y, k2);
  kernels::lincomb(y, 1.0, y0, {{h / 2, k2}});
  velocity_at(y, k3);
  kernels::lincomb(y, 1.0, y0, {{h, k3}});
  velocity_at(y, k4);
  std::vector<double> expected = y0.to_vector<double>(), gv = g.to_vector<double>();
  {
    std::vector<double> a = k1.to_vector<double>(), b = k2.to_vector<double>(), c = k3.to_vector<double>(),
                        e = k4.to_vector<double>();
    for (size_t i = 0; i < expected.size(); ++i) {
      expected[i] += h / 6 * (a[i] + 2 * b[i] + 2 * c[i] + e[i]);
      if (static_cast<int64_t>(i) < game.num_theta()) expected[i] -= h * lambda * gv[i];
    }
  }
  EXPECT_GT(max_abs(g), 1e-6);  // the regulariser takes part
  // The step itself, from the same point.
  game.state().copy_(y0);
  auto rk = make_stepper("rk4");
  StepStats st = rk->step(game, h);
  EXPECT_TRUE(st.finite);
  EXPECT_EQ(st.evaluations, 4);
  const Tensor want = Tensor::from_vector<double>(expected, y0.shape());
  // Same arithmetic in another association order: rounding only.
  EXPECT_TENSOR_NEAR(game.state().to(Device::cpu()), want, 1e-12, 1e-14 * max_abs(want));
  if (on_cuda()) {
    // The same step on the CPU from the same start point and batch.
    auto ref = dcgan_game(Device::cpu(), DType::f64, lambda);
    EXPECT_TENSOR_NEAR(ref->game->state(), y0.to(Device::cpu()), 0, 0);
    make_stepper("rk4")->step(*ref->game, h);
    EXPECT_TENSOR_NEAR(game.state().to(Device::cpu()), ref->game->state(), 1e-10, 1e-12 * max_abs(want));
  }
}

// Two runs of the same training (three RK4 + regulariser steps in float32) give the same
// bits: always on the CPU, and on CUDA in deterministic mode (ODEGAN_DETERMINISTIC=1).
class DeterministicTraining : public DeviceTest {};
INSTANTIATE_TEST_SUITE_P(Devices, DeterministicTraining, ::testing::ValuesIn(testing::device_cases({DType::f32})),
                         [](const auto& p) { return testing::device_case_name(p.param); });

TEST_P(DeterministicTraining, TwoRunsGiveIdenticalBits) {
  const bool was = kernels::deterministic();
  kernels::set_deterministic(true);
  auto train = [&] {
    auto s = dcgan_game(device(), DType::f32, 0.1);
    auto rk = make_stepper("rk4");
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(rk->step(*s->game, 0.04).finite);
    return s->game->state().to_vector<float>();
  };
  std::vector<float> a = train(), b = train();
  kernels::set_deterministic(was);
  ASSERT_EQ(a.size(), b.size());
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  EXPECT_EQ(differ, 0u) << "of " << a.size() << " parameters";
}

// ---------------------------------------------------------------- optimisers

class OptimizerOnDevice : public DeviceTest {
 protected:
  Tolerance tol() const { return dtype() == DType::f64 ? Tolerance{1e-13, 1e-15} : Tolerance{1e-5, 1e-6}; }
};
ODEGAN_INSTANTIATE_DEVICES_AND_DTYPES(OptimizerOnDevice);

TEST_P(OptimizerOnDevice, AdamOverSeveralStepsWithBiasCorrection) {
  const AdamOptions o{0.01, 0.5, 0.999, 1e-8};
  const int64_t n = 300;  // several blocks of a CUDA launch
  Tensor p = rnd({n}, 1);
  std::vector<double> ref = p.to_vector<double>(), m(n, 0.0), v(n, 0.0);
  Adam adam(o);
  for (int t = 1; t <= 6; ++t) {
    // Gradients of changing scale and sign: bias correction matters at every step.
    Tensor g = rnd({n}, 100 + t, -std::pow(3.0, t - 3), std::pow(3.0, t - 3));
    std::vector<double> gv = g.to_vector<double>();
    adam.step(p, g);
    for (int64_t i = 0; i < n; ++i) {
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * gv[i];
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * gv[i] * gv[i];
      const double mh = m[i] / (1 - std::pow(o.beta1, t)), vh = v[i] / (1 - std::pow(o.beta2, t));
      ref[i] -= o.lr * mh / (std::sqrt(vh) + o.eps);
    }
    ASSERT_EQ(p.device(), device());
    EXPECT_TENSOR_NEAR(p.to(Device::cpu()), Tensor::from_doubles(ref, {n}, dtype()), tol().rtol, tol().atol)
        << "step " << t;
  }
  EXPECT_EQ(adam.steps(), 6);
  // The state round trip continues identically (on the device).
  Adam other(o);
  other.load_state(adam.state(), adam.steps());
  Tensor q = p.clone(), g = rnd({n}, 200);
  adam.step(p, g);
  other.step(q, g);
  EXPECT_TENSOR_NEAR(p, q, 0, 0);
}

TEST_P(OptimizerOnDevice, SgdSteps) {
  Tensor p = rnd({1000}, 3), g = rnd({1000}, 4);
  std::vector<double> ref = p.to_vector<double>(), gv = g.to_vector<double>();
  Sgd sgd(0.1);
  for (int t = 0; t < 3; ++t) {
    sgd.step(p, g);
    for (size_t i = 0; i < ref.size(); ++i) ref[i] -= 0.1 * gv[i];
  }
  EXPECT_TENSOR_NEAR(p.to(Device::cpu()), Tensor::from_doubles(ref, {1000}, dtype()), tol().rtol, tol().atol);
}

// ---------------------------------------------------------------- integrators, toy game

class IntegratorOnDevice : public DeviceTest {};
ODEGAN_INSTANTIATE_DEVICES(IntegratorOnDevice);

TEST_P(IntegratorOnDevice, Rk4OnTheDeviceSolvesALinearOde) {
  // dy/dt = -y with y on the device: y(1) = y0 e^-1 to RK4's accuracy (h^4 / 120 per unit time).
  RungeKutta rk(rk4());
  Tensor y = rnd({70000}, 5);  // more than one block row of a launch
  const std::vector<double> y0 = y.to_vector<double>();
  for (int i = 0; i < 10; ++i)
    rk.step(y, 0.1 * i, 0.1, [](const Tensor& s, double, Tensor& v) { kernels::lincomb(v, -1.0, s, {}); });
  ASSERT_EQ(y.device(), device());
  std::vector<double> got = y.to_vector<double>();
  for (size_t i = 0; i < got.size(); i += 997) EXPECT_NEAR(got[i], y0[i] * std::exp(-1.0), 1e-6 * std::fabs(y0[i]) + 1e-15);
  if (on_cuda()) {
    Tensor c = Tensor::from_vector<double>(y0, {70000});
    RungeKutta rc(rk4());
    for (int i = 0; i < 10; ++i)
      rc.step(c, 0.1 * i, 0.1, [](const Tensor& s, double, Tensor& v) { kernels::lincomb(v, -1.0, s, {}); });
    EXPECT_TENSOR_NEAR(y, c, 1e-14, 1e-15);
  }
}

TEST_P(IntegratorOnDevice, RotatingToyGameConvergesWithRk4AndMatchesTheExactSolution) {
  RotatingGame game(0.1);
  RungeKutta rk(rk4());
  Tensor y = Tensor::from_vector<double>({1.0, 1.0}, {2}, device());
  const double h = 0.05;
  for (int i = 0; i < 400; ++i)
    rk.step(y, i * h, h, [&](const Tensor& s, double t, Tensor& v) { game.velocity(s, t, v); });
  ASSERT_EQ(y.device(), device());
  auto exact = game.exact({1.0, 1.0}, 20.0);
  std::vector<double> v = y.to_vector<double>();
  // RK4's global error at h = 0.05 over t = 20 is ~1e-7 (the order test in toy_test.cpp).
  EXPECT_NEAR(v[0], exact[0], 1e-6);
  EXPECT_NEAR(v[1], exact[1], 1e-6);
  EXPECT_LT(std::hypot(v[0], v[1]), 0.5);
}

}  // namespace
}  // namespace odegan::solvers
