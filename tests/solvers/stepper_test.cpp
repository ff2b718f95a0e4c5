// Every stepper of the registry (solvers/stepper.h) on a GAN whose vector field is known
// in closed form, the Dirac GAN: D(x) = w . x + c, G(z) = W z + b with z = 0 and real data
// at m, Wasserstein loss. Then
//   v_w = m - b,   v_b = w,   v_c = v_W = 0,   g_w = grad_w ||d l_G / d phi||^2 = 2 w
// (d l_G / d b = -w), a rotation about (w, b) = (0, m) with eigenvalues +-i, solved
// exactly by w(t) = w0 cos t + (m - b0) sin t,  b(t) = m + (b0 - m) cos t + w0 sin t.
// Against that: each method's order of accuracy and stability on the rotation, the
// optimiser steppers against hand-written updates in doubles, fresh vs shared batches,
// per-player integration, the regulariser, and checkpoint state (a resumed stepper
// continues bit for bit).
#include <gtest/gtest.h>

#include <cmath>
#include <complex>

#include "layers/layers.h"
#include "solvers/gan_game.h"
#include "solvers/stepper.h"
#include "tests/common/device_test.h"

namespace odegan::solvers {
namespace {

using std::make_shared;
constexpr int64_t kDim = 3, kLatent = 2, kBatch = 4;

// The Dirac GAN. State layout: theta = [w (3), c (1)], phi = [W (3 x 2), b (3)].
struct Dirac {
  std::shared_ptr<nn::Linear> d = make_shared<nn::Linear>(kDim, 1, true, DType::f64);
  std::shared_ptr<nn::Linear> g = make_shared<nn::Linear>(kLatent, kDim, true, DType::f64);
  std::vector<std::vector<double>> means;  // real data per batch drawn (cycled)
  int drawn = 0;
  Device device;
  std::unique_ptr<GanGame> game;

  Dirac(GameOptions opt, std::vector<std::vector<double>> m = {{0.5, -0.25, 1.0}}, Device dev = Device::cpu())
      : means(std::move(m)), device(dev) {
    Generator gen(7);
    d->reset_all(gen, nn::Init::reference);
    g->reset_all(gen, nn::Init::reference);
    d->to(dev);
    g->to(dev);
    opt.loss = GanLoss::wasserstein;
    game = std::make_unique<GanGame>(Players::unconditional(g, d), [this] { return batch(); }, opt);
    // A start away from the equilibrium (w, b) = (0, m).
    std::vector<double> y = values();
    for (int i = 0; i < kDim; ++i) y[size_t(i)] = 0.3 * (i + 1), y[size_t(4 + 6 + i)] = -0.2 * i + 0.1;
    set(y);
  }
  Batch batch() {
    const std::vector<double>& m = means[size_t(drawn++) % means.size()];
    std::vector<double> real;
    for (int n = 0; n < kBatch; ++n) real.insert(real.end(), m.begin(), m.end());
    Batch b;
    b.real = Tensor::from_vector<double>(real, {kBatch, kDim}).to(device);
    b.z = Tensor::zeros({kBatch, kLatent}, DType::f64, device);
    return b;
  }
  std::vector<double> values() const { return game->state().to_vector<double>(); }
  void set(const std::vector<double>& y) { game->state().copy_(Tensor::from_vector<double>(y, {int64_t(y.size())}).to(device)); }
  static std::vector<double> w(const std::vector<double>& y) { return {y[0], y[1], y[2]}; }
  static std::vector<double> b(const std::vector<double>& y) { return {y[10], y[11], y[12]}; }
};

// The exact rotation from (w0, b0) after time t, for data at m.
void exact(const std::vector<double>& y0, const std::vector<double>& m, double t, std::vector<double>& w,
           std::vector<double>& b) {
  w.resize(kDim), b.resize(kDim);
  for (int i = 0; i < kDim; ++i) {
    const double w0 = y0[size_t(i)], d0 = y0[size_t(10 + i)] - m[size_t(i)];
    w[size_t(i)] = w0 * std::cos(t) - d0 * std::sin(t);
    b[size_t(i)] = m[size_t(i)] + d0 * std::cos(t) + w0 * std::sin(t);
  }
}

double error_at(const std::string& method, double h, double t_end, StepperOptions o = {}) {
  Dirac s({});
  const std::vector<double> y0 = s.values();
  auto st = make_stepper(method, o);
  const int n = static_cast<int>(std::lround(t_end / h));
  for (int i = 0; i < n; ++i) EXPECT_TRUE(st->step(*s.game, h).finite);
  std::vector<double> w, b;
  exact(y0, s.means[0], n * h, w, b);
  const std::vector<double> y = s.values();
  double e = 0;
  for (int i = 0; i < kDim; ++i) e = std::max({e, std::fabs(Dirac::w(y)[size_t(i)] - w[size_t(i)]),
                                               std::fabs(Dirac::b(y)[size_t(i)] - b[size_t(i)])});
  return e;
}

StepperOptions tight() {
  StepperOptions o;
  o.implicit = {1e-13, 1e-15, 200};
  return o;
}

TEST(Steppers, EveryRegisteredNameConstructsAndUnknownNamesAreListed) {
  for (const std::string& n : stepper_names()) {
    auto s = make_stepper(n);
    EXPECT_EQ(s->name(), n);
  }
  try {
    make_stepper("rk5");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'rk5'"), std::string::npos) << msg;
    for (const char* n : {"ab3", "trapezoid", "symplectic_euler", "extragradient", "sngan", "adaptive_dopri5"})
      EXPECT_NE(msg.find(n), std::string::npos) << n << " missing from: " << msg;
  }
  EXPECT_THROW(make_stepper("dopri5_adam"), Error);  // RK + Adam needs a sequential method
  EXPECT_THROW(make_stepper("adaptive_rk4"), Error);  // no embedded pair
}

TEST(Steppers, AdamsBashforthWeightsIntegratePolynomialsExactly) {
  // Constant steps: the textbook weights.
  auto w2 = adams_bashforth_weights(0.1, {0.1});
  EXPECT_NEAR(w2[0], 1.5, 1e-14);
  EXPECT_NEAR(w2[1], -0.5, 1e-14);
  auto w3 = adams_bashforth_weights(0.2, {0.2, 0.2});
  EXPECT_NEAR(w3[0], 23.0 / 12, 1e-14);
  EXPECT_NEAR(w3[1], -16.0 / 12, 1e-14);
  EXPECT_NEAR(w3[2], 5.0 / 12, 1e-14);
  // Variable steps: sum_j w_j f(t_j) h = integral of f over [0, h] for f of degree <= k - 1.
  const double h = 0.3, p1 = 0.1, p2 = 0.45;
  auto f = [](double t) { return 1.0 - 2.0 * t + 3.0 * t * t; };
  auto w = adams_bashforth_weights(h, {p1, p2});
  const double quad = h * (w[0] * f(0) + w[1] * f(-p1) + w[2] * f(-p1 - p2));
  EXPECT_NEAR(quad, h - h * h + h * h * h, 1e-14);
  EXPECT_THROW(adams_bashforth_weights(0.1, {0.0}), Error);
}

// Global error at t = 1 with h and h / 2: the ratio is 2^order.
struct OrderCase {
  const char* method;
  int order;
};

class StepperOrder : public ::testing::TestWithParam<OrderCase> {};

TEST_P(StepperOrder, ConvergesAtItsOrderOnTheRotation) {
  const OrderCase c = GetParam();
  const double h = c.order >= 4 ? 0.1 : 0.02;
  const double e1 = error_at(c.method, h, 1.0, tight()), e2 = error_at(c.method, h / 2, 1.0, tight());
  const double p = std::log2(e1 / e2);
  EXPECT_NEAR(p, c.order, 0.15) << c.method << ": errors " << e1 << " and " << e2;
}

INSTANTIATE_TEST_SUITE_P(Methods, StepperOrder,
                         ::testing::Values(OrderCase{"euler", 1}, OrderCase{"gd", 1}, OrderCase{"extragradient", 1},
                                           OrderCase{"symplectic_euler", 1}, OrderCase{"rk2", 2},
                                           OrderCase{"midpoint", 2}, OrderCase{"ab2", 2}, OrderCase{"ab3", 3},
                                           OrderCase{"implicit_midpoint", 2}, OrderCase{"trapezoid", 2},
                                           OrderCase{"rk4", 4}),
                         [](const auto& p) { return std::string(p.param.method); });

// The rotation's energy |w|^2 + |b - m|^2 after 200 steps of h = 0.5, over its start: Euler
// gains (1 + h^2) per step, the A-stable implicit methods keep it (|R(ih)| = 1), RK4
// loses a little, symplectic Euler keeps it bounded.
double energy_ratio(const std::string& method, double h, int steps) {
  Dirac s({});
  auto energy = [&](const std::vector<double>& y) {
    double e = 0;
    for (int i = 0; i < kDim; ++i)
      e += y[size_t(i)] * y[size_t(i)] + std::pow(y[size_t(10 + i)] - s.means[0][size_t(i)], 2);
    return e;
  };
  const double e0 = energy(s.values());
  auto st = make_stepper(method, tight());
  for (int i = 0; i < steps; ++i) st->step(*s.game, h);
  return energy(s.values()) / e0;
}

TEST(Steppers, StabilityOnTheRotationMatchesEachMethodsRegion) {
  const double h = 0.5;
  EXPECT_NEAR(energy_ratio("euler", h, 20), std::pow(1 + h * h, 20), 1e-6 * std::pow(1 + h * h, 20));
  EXPECT_NEAR(energy_ratio("implicit_midpoint", h, 200), 1.0, 1e-9);
  EXPECT_NEAR(energy_ratio("trapezoid", h, 200), 1.0, 1e-9);
  const double rk4 = std::norm(std::complex<double>(1 - h * h / 2 + h * h * h * h / 24, h - h * h * h / 6));
  EXPECT_NEAR(energy_ratio("rk4", h, 200), std::pow(rk4, 200), 1e-9);
  const double se = energy_ratio("symplectic_euler", h, 200);
  EXPECT_GT(se, 0.5);
  EXPECT_LT(se, 2.0);
  EXPECT_GT(energy_ratio("ab2", h, 200), 10.0);  // AB2's region excludes the imaginary axis
}

TEST(Steppers, ImplicitMethodsReportTheirIterationsAndStopAtTheCap) {
  Dirac s({});
  StepperOptions o;
  o.implicit = {1e-3, 1e-6, 50};
  auto st = make_stepper("trapezoid", o);
  ASSERT_TRUE(st->reports_iterations());
  StepStats r = st->step(*s.game, 0.1);
  EXPECT_TRUE(r.converged);
  EXPECT_GE(r.iterations, 2);
  EXPECT_LT(r.iterations, 10);
  EXPECT_EQ(r.evaluations, 1 + r.iterations);
  // At h = 3 the fixed-point map (contraction h |lambda| / 2 = 1.5) diverges: the cap ends it.
  o.implicit = {1e-3, 1e-6, 4};
  Dirac s2({});
  r = make_stepper("trapezoid", o)->step(*s2.game, 3.0);
  EXPECT_EQ(r.iterations, 4);
  EXPECT_FALSE(r.converged);
}

// Newton-Krylov keeps the implicit methods usable where the fixed point diverges: at
// h = 3 on the rotation (h |lambda| / 2 = 1.5) it converges, and the step is the exact
// solution of the implicit equation: p = d + i w multiplied by R(-3i) (|R| = 1).
TEST(Steppers, NewtonKrylovSolvesTheImplicitEquationWhereTheFixedPointCannot) {
  for (const char* m : {"implicit_midpoint", "trapezoid"}) {
    Dirac s({});
    const std::vector<double> y0 = s.values();
    StepperOptions o;
    o.implicit.solver = "newton";
    o.implicit.rtol = 1e-12, o.implicit.atol = 1e-14, o.implicit.krylov = 20, o.implicit.krylov_rtol = 1e-12;
    auto st = make_stepper(m, o);
    const double h = 3.0;
    StepStats r = st->step(*s.game, h);
    EXPECT_TRUE(r.converged) << m;
    EXPECT_LE(r.iterations, 3) << m;  // a linear field: Newton is exact after one iteration
    // p = d + i w (d = b - m) obeys p' = -i p; the step multiplies p by R(z) = (1 + z/2) / (1 - z/2)
    // at z = -ih.
    const std::complex<double> R = (1.0 - std::complex<double>(0, h / 2)) / (1.0 + std::complex<double>(0, h / 2));
    const std::vector<double> y = s.values();
    for (int i = 0; i < kDim; ++i) {
      const std::complex<double> p0(y0[size_t(10 + i)] - s.means[0][size_t(i)], y0[size_t(i)]);
      const std::complex<double> p1 = R * p0;
      EXPECT_NEAR(y[size_t(10 + i)] - s.means[0][size_t(i)], p1.real(), 1e-10) << m;
      EXPECT_NEAR(y[size_t(i)], p1.imag(), 1e-10) << m;
    }
  }
  StepperOptions bad;
  bad.implicit.solver = "broyden";
  EXPECT_THROW(make_stepper("trapezoid", bad), Error);
}

TEST(Steppers, RegulariserIsAppliedAfterTheStepWithTheStartsGradient) {
  // Euler + lambda: w1 = w0 + h (m - b0) - h lambda 2 w0, b1 = b0 + h w0.
  GameOptions opt;
  opt.reg_lambda = 0.3;
  Dirac s(opt);
  const std::vector<double> y0 = s.values();
  const double h = 0.1;
  StepStats r = make_stepper("euler")->step(*s.game, h);
  const std::vector<double> y = s.values();
  for (int i = 0; i < kDim; ++i) {
    const double w0 = y0[size_t(i)], b0 = y0[size_t(10 + i)], m = s.means[0][size_t(i)];
    EXPECT_NEAR(y[size_t(i)], w0 + h * (m - b0) - h * 0.3 * 2 * w0, 1e-14);
    EXPECT_NEAR(y[size_t(10 + i)], b0 + h * w0, 1e-14);
  }
  double w2 = 0;
  for (int i = 0; i < kDim; ++i) w2 += y0[size_t(i)] * y0[size_t(i)];
  EXPECT_NEAR(r.reg_norm, 2 * std::sqrt(w2), 1e-12);
  // The SN-GAN baseline does not use it.
  EXPECT_FALSE(make_stepper("sngan")->uses_regulariser());
}

// Fresh batches: RK4's four stages each draw a batch (data at a different mean each); the
// result is the RK4 combination of the four velocities, each on its own data.
TEST(Steppers, FreshBatchesGiveEachStageItsOwnData) {
  const std::vector<std::vector<double>> means = {{0.5, -0.25, 1.0}, {0.1, 0.2, 0.3}, {-1, 0, 1}, {2, 2, -2}};
  for (bool fresh : {true, false}) {
    GameOptions opt;
    opt.fresh_batch_per_stage = fresh;
    Dirac s(opt, means);
    const std::vector<double> y0 = s.values();
    const double h = 0.2;
    make_stepper("rk4")->step(*s.game, h);
    EXPECT_EQ(s.drawn, fresh ? 4 : 1);
    // Hand-written RK4 on (w, b) with stage k's data at means[k] (or means[0] for all).
    std::vector<double> w(y0.begin(), y0.begin() + kDim), b(y0.begin() + 10, y0.begin() + 13);
    std::vector<std::vector<double>> kw(4, std::vector<double>(kDim)), kb = kw;
    const double a[4] = {0, 0.5, 0.5, 1}, wt[4] = {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6};
    for (int st = 0; st < 4; ++st)
      for (int i = 0; i < kDim; ++i) {
        const double wi = w[size_t(i)] + (st ? h * a[st] * kw[size_t(st - 1)][size_t(i)] : 0);
        const double bi = b[size_t(i)] + (st ? h * a[st] * kb[size_t(st - 1)][size_t(i)] : 0);
        kw[size_t(st)][size_t(i)] = means[fresh ? size_t(st) : 0][size_t(i)] - bi;
        kb[size_t(st)][size_t(i)] = wi;
      }
    const std::vector<double> y = s.values();
    for (int i = 0; i < kDim; ++i) {
      double dw = 0, db = 0;
      for (int st = 0; st < 4; ++st) dw += wt[st] * kw[size_t(st)][size_t(i)], db += wt[st] * kb[size_t(st)][size_t(i)];
      EXPECT_NEAR(y[size_t(i)], w[size_t(i)] + h * dw, 1e-14) << "fresh " << fresh;
      EXPECT_NEAR(y[size_t(10 + i)], b[size_t(i)] + h * db, 1e-14) << "fresh " << fresh;
    }
  }
}

// Per-player integration: each player moves against the other frozen at the step's start.
// For the Dirac GAN a player's velocity does not depend on itself, so every stage has the
// start's velocity and any RK method gives the Euler step.
TEST(Steppers, PerPlayerIntegrationFreezesTheOtherPlayer) {
  GameOptions opt;
  opt.per_player = true;
  Dirac s(opt);
  const std::vector<double> y0 = s.values();
  make_stepper("rk4")->step(*s.game, 0.3);
  const std::vector<double> y = s.values();
  for (int i = 0; i < kDim; ++i) {
    EXPECT_NEAR(y[size_t(i)], y0[size_t(i)] + 0.3 * (s.means[0][size_t(i)] - y0[size_t(10 + i)]), 1e-14);
    EXPECT_NEAR(y[size_t(10 + i)], y0[size_t(10 + i)] + 0.3 * y0[size_t(i)], 1e-14);
  }
  EXPECT_THROW(make_stepper("symplectic_euler")->step(*s.game, 0.1), Error);
}

// Symplectic Euler moves D, then G against the new D.
TEST(Steppers, SymplecticEulerMovesThePlayersInTurn) {
  Dirac s({});
  const std::vector<double> y0 = s.values();
  const double h = 0.25;
  make_stepper("symplectic_euler")->step(*s.game, h);
  const std::vector<double> y = s.values();
  for (int i = 0; i < kDim; ++i) {
    const double w1 = y0[size_t(i)] + h * (s.means[0][size_t(i)] - y0[size_t(10 + i)]);
    EXPECT_NEAR(y[size_t(i)], w1, 1e-14);
    EXPECT_NEAR(y[size_t(10 + i)], y0[size_t(10 + i)] + h * w1, 1e-14);
  }
}

// Adam in doubles, for the references below.
struct RefAdam {
  RefAdam(double lr_, double b1_, double b2_) : lr(lr_), b1(b1_), b2(b2_) {}
  double lr, b1, b2, eps = 1e-8;
  std::vector<double> m, v;
  int t = 0;
  void step(std::vector<double>& p, const std::vector<double>& g) {
    if (m.empty()) m.assign(g.size(), 0), v.assign(g.size(), 0);
    ++t;
    for (size_t i = 0; i < g.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const double mh = m[i] / (1 - std::pow(b1, t)), vh = v[i] / (1 - std::pow(b2, t));
      p[i] -= lr * mh / (std::sqrt(vh) + eps);
    }
  }
};

// Loss gradients of the Dirac GAN at y (state layout): -v.
std::vector<double> grads(const std::vector<double>& y, const std::vector<double>& m) {
  std::vector<double> g(y.size(), 0.0);
  for (int i = 0; i < kDim; ++i) g[size_t(i)] = y[size_t(10 + i)] - m[size_t(i)], g[size_t(10 + i)] = -y[size_t(i)];
  return g;
}

TEST(Steppers, AdamMatchesAHandWrittenAdamWithTheRegulariserInDsGradient) {
  GameOptions opt;
  opt.reg_lambda = 0.1;
  Dirac s(opt);
  StepperOptions o;
  o.adam = {0.05, 0.5, 0.999, 1e-8};
  auto st = make_stepper("adam", o);
  RefAdam ref{0.05, 0.5, 0.999};
  std::vector<double> y = s.values();
  for (int k = 0; k < 5; ++k) {
    std::vector<double> g = grads(y, s.means[0]);
    for (int i = 0; i < kDim; ++i) g[size_t(i)] += 0.1 * 2 * y[size_t(i)];
    ref.step(y, g);
    st->step(*s.game, 123.0);  // h is not Adam's learning rate
  }
  const std::vector<double> got = s.values();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(got[i], y[i], 1e-12) << i;
}

TEST(Steppers, SnganAlternatesNDisStepsOfDWithOneOfG) {
  Dirac s({});
  StepperOptions o;
  o.adam = {0.05, 0.0, 0.9, 1e-8};
  o.n_dis = 3;
  auto st = make_stepper("sngan", o);
  RefAdam ad{0.05, 0.0, 0.9}, ag = ad;
  std::vector<double> y = s.values();
  for (int k = 0; k < 3; ++k) {
    std::vector<double> th(y.begin(), y.begin() + 4), ph(y.begin() + 4, y.end());
    for (int d = 0; d < 3; ++d) {
      std::vector<double> g = grads(y, s.means[0]);
      ad.step(th, std::vector<double>(g.begin(), g.begin() + 4));
      std::copy(th.begin(), th.end(), y.begin());
    }
    std::vector<double> g = grads(y, s.means[0]);
    ag.step(ph, std::vector<double>(g.begin() + 4, g.end()));
    std::copy(ph.begin(), ph.end(), y.begin() + 4);
    StepStats r = st->step(*s.game, 1.0);
    EXPECT_EQ(r.evaluations, 4);
  }
  EXPECT_EQ(s.drawn, 12);  // a fresh batch for every update
  const std::vector<double> got = s.values();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(got[i], y[i], 1e-12) << i;
}

// RK + Adam (the reference CIFAR code): stage points are y0 moved by one Adam update of
// a_{i,i-1} g_{i-1}; the final update is Adam on sum b_i g_i from y0; lambda / b_1 g_theta
// joins the first gradient.
TEST(Steppers, RkAdamMatchesTheReferenceCodesUpdates) {
  GameOptions opt;
  opt.reg_lambda = 0.2;
  Dirac s(opt);
  StepperOptions o;
  o.adam = {1.0, 0.5, 0.999, 1e-8};
  auto st = make_stepper("rk2_adam", o);
  const double h = 0.01;
  RefAdam ref{h, 0.5, 0.999};
  std::vector<double> y = s.values();
  for (int k = 0; k < 3; ++k) {
    const std::vector<double> y0 = y;
    std::vector<double> g1 = grads(y0, s.means[0]);
    for (int i = 0; i < kDim; ++i) g1[size_t(i)] += 0.2 / 0.5 * 2 * y0[size_t(i)];
    std::vector<double> stage = y0, scaled(g1.size());
    for (size_t i = 0; i < g1.size(); ++i) scaled[i] = 1.0 * g1[i];  // heun: a21 = 1
    ref.step(stage, scaled);
    const std::vector<double> g2 = grads(stage, s.means[0]);
    std::vector<double> acc(g1.size());
    for (size_t i = 0; i < acc.size(); ++i) acc[i] = 0.5 * g1[i] + 0.5 * g2[i];
    y = y0;
    ref.step(y, acc);
    st->step(*s.game, h);
  }
  const std::vector<double> got = s.values();
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(got[i], y[i], 1e-12) << i;
}

// Adaptive steps keep the local error near the tolerance and land close to the exact
// solution; the accepted h and the estimate come back in the stats.
TEST(Steppers, AdaptiveStepsFollowTheExactSolutionWithinTolerance) {
  for (const char* m : {"adaptive_fehlberg", "adaptive_bs32", "adaptive_dopri5"}) {
    Dirac s({});
    const std::vector<double> y0 = s.values();
    StepperOptions o;
    o.adaptive = AdaptiveOptions{1e-9, 1e-6};
    auto st = make_stepper(m, o);
    double t = 0;
    int steps = 0;
    while (t < 3.0) {
      StepStats r = st->step(*s.game, 0.05);
      ASSERT_GT(r.h, 0);
      ASSERT_GE(r.error, 0);
      t += r.h;
      ++steps;
    }
    std::vector<double> w, b;
    exact(y0, s.means[0], t, w, b);
    const std::vector<double> y = s.values();
    // The global error stays within the sum of the local errors (each a few times rtol).
    for (int i = 0; i < kDim; ++i) EXPECT_NEAR(y[size_t(i)], w[size_t(i)], 1e-5 * steps) << m;
    EXPECT_GT(steps, 3) << m;
  }
}

// Checkpoint state: 6 steps straight equal 3 steps, a checkpoint into a new stepper (and a
// new game at the saved point), and 3 more, bit for bit.
TEST(Steppers, ResumedStateContinuesBitForBit) {
  for (const char* m : {"ab2", "ab3", "adam", "rk4_adam", "sngan", "adaptive_bs32", "rk4", "trapezoid"})
  for (int split : {1, 3}) {  // AB3: inside its start-up, and after
    GameOptions opt;
    opt.reg_lambda = 0.05;
    opt.fresh_batch_per_stage = true;
    const std::vector<std::vector<double>> means = {{0.5, -0.25, 1.0}, {0.1, 0.2, 0.3}, {-1, 0, 1}};
    Dirac straight(opt, means);
    StepperOptions o;
    o.adam.lr = 0.01;
    auto a = make_stepper(m, o);
    for (int i = 0; i < 6; ++i) a->step(*straight.game, 0.07 + 0.01 * (i % 2));  // variable steps for AB
    Dirac first(opt, means);
    auto b = make_stepper(m, o);
    for (int i = 0; i < split; ++i) b->step(*first.game, 0.07 + 0.01 * (i % 2));
    StepperState st = b->state();
    for (auto& [k, t] : st.tensors) t = t.clone();  // as a checkpoint: a copy
    Dirac second(opt, means);
    second.set(first.values());
    second.drawn = first.drawn;
    auto c = make_stepper(m, o);
    c->load_state(st, *second.game, "test");
    for (int i = split; i < 6; ++i) c->step(*second.game, 0.07 + 0.01 * (i % 2));
    EXPECT_EQ(second.values(), straight.values()) << m << " split at " << split;
  }
}

TEST(Steppers, BadCheckpointStateIsRefusedNamingTheEntry) {
  Dirac s({});
  auto ab = make_stepper("ab3");
  StepperState st;
  st.numbers["ab_count"] = 1;
  st.numbers["ab_h1"] = 0.1;
  st.tensors["ab.f1"] = Tensor::zeros({5}, DType::f64);  // the state has 13 values
  try {
    ab->load_state(st, *s.game, "ckpt-7");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ab.f1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ckpt-7"), std::string::npos) << e.what();
  }
  st.numbers["ab_count"] = 5;  // more history than AB3 keeps
  EXPECT_THROW(ab->load_state(st, *s.game, "ckpt-7"), Error);
  StepperState bad;
  bad.numbers["h_proposal"] = -1;
  EXPECT_THROW(make_stepper("adaptive_bs32")->load_state(bad, *s.game, "ckpt-7"), Error);
  bad.numbers = {{"adam_steps", 2.5}};
  EXPECT_THROW(make_stepper("adam")->load_state(bad, *s.game, "ckpt-7"), Error);
}

// The same steppers on every device: a CUDA state follows the CPU one.
class SteppersOnDevice : public testing::DeviceTest {};
ODEGAN_INSTANTIATE_DEVICES(SteppersOnDevice);

TEST_P(SteppersOnDevice, EveryMethodMovesTheStateAsOnTheCpu) {
  for (const char* m : {"ab3", "implicit_midpoint", "symplectic_euler", "extragradient", "adaptive_dopri5", "rk4_adam"}) {
    GameOptions opt;
    opt.reg_lambda = 0.05;
    Dirac dev(opt, {{0.5, -0.25, 1.0}}, device()), cpu(opt);
    auto a = make_stepper(m), b = make_stepper(m);
    for (int i = 0; i < 4; ++i) {
      StepStats r = a->step(*dev.game, 0.1);
      ASSERT_TRUE(r.finite) << m;
      b->step(*cpu.game, 0.1);
    }
    ASSERT_EQ(dev.game->state().device(), device());
    const std::vector<double> x = dev.values(), y = cpu.values();
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], 1e-12) << m << " " << i;
  }
  // Newton-Krylov: J w products (third derivatives) on the device.
  StepperOptions o;
  o.implicit.solver = "newton";
  Dirac dev({}, {{0.5, -0.25, 1.0}}, device()), cpu({});
  auto a = make_stepper("trapezoid", o), b = make_stepper("trapezoid", o);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(a->step(*dev.game, 0.5).converged);
    b->step(*cpu.game, 0.5);
  }
  const std::vector<double> x = dev.values(), y = cpu.values();
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], 1e-12) << "newton " << i;
}

}  // namespace
}  // namespace odegan::solvers
