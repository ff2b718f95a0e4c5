// The game's Jacobian spectrum (apps/common/spectrum.h, odegan_spectrum): the eigen-solvers
// on matrices with eigenvalues known by construction; the Jacobian products of the
// paper's toy game (eq. 7) and of a linear GAN, whose eigenvalues are known in closed form;
// the products of a nonlinear GAN against central differences of the velocity; the
// methods' stability functions at their known boundary points; and the app end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/common/spectrum.h"
#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "layers/layers.h"
#include "solvers/gan_game.h"
#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace odegan {
namespace {

using app::cdouble;
using testing::bin;
using testing::run;

// A = Q B Q with Q a Householder reflection (Q = Q^-1) and B block diagonal: 2 x 2 blocks
// [[a, b], [-b, a]] (eigenvalues a +- bi) and 1 x 1 blocks.
struct KnownMatrix {
  int64_t n;
  std::vector<double> a;  // row-major
  std::vector<cdouble> eig;
};

KnownMatrix known_matrix(const std::vector<std::pair<double, double>>& pairs, const std::vector<double>& reals,
                         uint64_t seed) {
  const int64_t n = static_cast<int64_t>(2 * pairs.size() + reals.size());
  std::vector<double> b(size_t(n * n), 0.0);
  std::vector<cdouble> eig;
  int64_t at = 0;
  for (auto [re, im] : pairs) {
    b[size_t(at * n + at)] = re, b[size_t(at * n + at + 1)] = im;
    b[size_t((at + 1) * n + at)] = -im, b[size_t((at + 1) * n + at + 1)] = re;
    eig.push_back({re, im}), eig.push_back({re, -im});
    at += 2;
  }
  for (double r : reals) b[size_t(at * n + at)] = r, eig.push_back({r, 0}), ++at;
  std::vector<double> v = testing::random_tensor({n}, DType::f64, seed).to_vector<double>();
  double vv = 0;
  for (double x : v) vv += x * x;
  auto q = [&](int64_t i, int64_t j) { return (i == j ? 1.0 : 0.0) - 2 * v[size_t(i)] * v[size_t(j)] / vv; };
  std::vector<double> qb(size_t(n * n), 0.0), a(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < n; ++j) qb[size_t(i * n + j)] += q(i, k) * b[size_t(k * n + j)];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < n; ++j) a[size_t(i * n + j)] += qb[size_t(i * n + k)] * q(k, j);
  return {n, a, eig};
}

app::LinearOperator as_operator(const KnownMatrix& m) {
  return [&m](const double* x, double* y) {
    for (int64_t i = 0; i < m.n; ++i) {
      double s = 0;
      for (int64_t j = 0; j < m.n; ++j) s += m.a[size_t(i * m.n + j)] * x[j];
      y[i] = s;
    }
  };
}

// Every expected eigenvalue has a distinct match in `got` within tol.
void expect_same_set(std::vector<cdouble> got, const std::vector<cdouble>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (const cdouble& w : want) {
    auto it = std::min_element(got.begin(), got.end(),
                               [&](const cdouble& x, const cdouble& y) { return std::abs(x - w) < std::abs(y - w); });
    EXPECT_LT(std::abs(*it - w), tol) << "eigenvalue " << w << " not found; nearest " << *it;
    got.erase(it);
  }
}

TEST(Spectrum, DenseSolverFindsEveryEigenvalueOfAKnownMatrix) {
  KnownMatrix m = known_matrix({{-0.5, 2.0}, {0.3, 0.7}, {-2.0, 0.1}}, {1.5, -3.0, 0.0, 0.25}, 3);
  int calls = 0;
  std::vector<cdouble> got = app::dense_eigenvalues(as_operator(m), m.n, [&](int64_t) { ++calls; });
  EXPECT_EQ(calls, m.n);
  expect_same_set(got, m.eig, 1e-10);
}

TEST(Spectrum, ArnoldiFindsTheExtremeEigenvaluesOfALargeMatrix) {
  // 200 x 200: a cloud of small eigenvalues, three large-modulus ones, two far to the left.
  std::vector<std::pair<double, double>> pairs = {{0.1, 9.0}, {-7.5, 0.5}};
  std::vector<double> reals = {-8.0, 6.0};
  for (int i = 0; i < 97; ++i) pairs.push_back({-0.5 + 0.01 * i, 0.02 * (i % 7)});
  KnownMatrix m = known_matrix(pairs, reals, 5);
  ASSERT_EQ(m.n, 200);
  app::ArnoldiResult big = app::arnoldi_eigenvalues(as_operator(m), m.n, 4, app::Which::largest_modulus);
  ASSERT_TRUE(big.converged);
  expect_same_set(app::select(big.values, app::Which::largest_modulus, 4),
                  {{0.1, 9.0}, {0.1, -9.0}, {-8.0, 0}, {-7.5, 0.5}}, 1e-7);
  EXPECT_GT(big.products, 4);
  app::ArnoldiResult left = app::arnoldi_eigenvalues(as_operator(m), m.n, 3, app::Which::smallest_real);
  ASSERT_TRUE(left.converged);
  expect_same_set(app::select(left.values, app::Which::smallest_real, 3), {{-8.0, 0}, {-7.5, 0.5}, {-7.5, -0.5}},
                  1e-7);
  EXPECT_THROW(app::arnoldi_eigenvalues(as_operator(m), m.n, 199, app::Which::smallest_real), Error);
}

// The toy game of the paper's eq. 7: l_D = eps/2 theta^2 - theta phi, l_G = theta phi, so
// J = dv/dy = [[-eps, 1], [-1, 0]] with eigenvalues (-eps +- sqrt(eps^2 - 4)) / 2. J^T u
// from a double backward through the losses, as GanGame::jacobian_transpose does.
TEST(Spectrum, ToyGameEigenvaluesMatchTheClosedForm) {
  const double eps = 0.3;
  ad::Var th(Tensor::from_vector<double>({0.7}, {1}), true), ph(Tensor::from_vector<double>({-0.4}, {1}), true);
  ad::Var ld = ad::sub(ad::mul(ad::mul(th, th), eps / 2), ad::mul(th, ph));
  ad::Var lg = ad::mul(th, ph);
  ad::GradOptions keep;
  keep.create_graph = true;
  ad::Var gt = ad::grad({ld}, {th}, {}, keep)[0], gp = ad::grad({lg}, {ph}, {}, keep)[0];
  const app::LinearOperator jt = [&](const double* x, double* y) {
    ad::GradOptions o;
    o.retain_graph = true;
    o.allow_unused = true;
    auto r = ad::grad({gt, gp}, {th, ph},
                      {ad::Var(Tensor::from_vector<double>({-x[0]}, {1})), ad::Var(Tensor::from_vector<double>({-x[1]}, {1}))},
                      o);
    for (int i = 0; i < 2; ++i) y[i] = r[size_t(i)].defined() ? r[size_t(i)].data().to_vector<double>()[0] : 0.0;
  };
  const double s = std::sqrt(4 - eps * eps) / 2;
  expect_same_set(app::dense_eigenvalues(jt, 2), {{-eps / 2, s}, {-eps / 2, -s}}, 1e-14);
}

// A linear GAN: D(x) = w . x + c, G(z) = W z + b, Wasserstein loss, batch with data mean m
// and noise mean zbar. Then v_w = m - W zbar - b, v_W = w zbar^T, v_b = w, v_c = 0: a linear
// field whose nonzero eigenvalues are +-i sqrt(1 + |zbar|^2), each d times (w'' = -(1 +
// |zbar|^2) w), and the rest 0.
TEST(Spectrum, LinearGanJacobianAndEigenvaluesAreExact) {
  const int64_t d = 3, latent = 2, batch = 5;
  auto D = std::make_shared<nn::Linear>(d, 1, true, DType::f64);
  auto G = std::make_shared<nn::Linear>(latent, d, true, DType::f64);
  Generator gen(11);
  D->reset_all(gen, nn::Init::reference);
  G->reset_all(gen, nn::Init::reference);
  solvers::Batch b;
  b.real = testing::random_tensor({batch, d}, DType::f64, 21);
  b.z = testing::random_tensor({batch, latent}, DType::f64, 22);
  solvers::GameOptions opt;
  opt.loss = solvers::GanLoss::wasserstein;
  solvers::GanGame game(solvers::Players::unconditional(G, D), [&] { return b; }, opt);
  const int64_t n = game.state().numel();
  ASSERT_EQ(n, d + 1 + d * latent + d);
  auto jt = game.jacobian_transpose(b);
  // J formed from products: row i of J is (J^T e_i)^T.
  std::vector<double> J(size_t(n * n));
  Tensor u = Tensor::zeros({n}, DType::f64), out = Tensor::empty({n}, DType::f64);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> e(size_t(n), 0.0);
    e[size_t(i)] = 1;
    u.copy_(Tensor::from_vector(e, {n}));
    jt(u, out);
    std::vector<double> r = out.to_vector<double>();
    for (int64_t j = 0; j < n; ++j) J[size_t(i * n + j)] = r[size_t(j)];
  }
  // The closed form. Layout: w (0..2), c (3), W (4..9, row-major d x latent), b (10..12).
  std::vector<double> zbar(latent, 0.0);
  const std::vector<double> z = b.z.to_vector<double>();
  for (int64_t k = 0; k < batch; ++k)
    for (int64_t l = 0; l < latent; ++l) zbar[size_t(l)] += z[size_t(k * latent + l)] / batch;
  std::vector<double> want(size_t(n * n), 0.0);
  auto at = [&](int64_t i, int64_t j) -> double& { return want[size_t(i * n + j)]; };
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t l = 0; l < latent; ++l) at(i, 4 + i * latent + l) = -zbar[size_t(l)];  // dv_w / dW
    at(i, 10 + i) = -1;                                                                 // dv_w / db
    for (int64_t l = 0; l < latent; ++l) at(4 + i * latent + l, i) = zbar[size_t(l)];   // dv_W / dw
    at(10 + i, i) = 1;                                                                  // dv_b / dw
  }
  for (size_t k = 0; k < J.size(); ++k) EXPECT_NEAR(J[k], want[k], 1e-13) << "entry " << k / n << ", " << k % n;
  const app::LinearOperator op = [&](const double* x, double* y) {
    u.copy_(Tensor::from_vector(std::vector<double>(x, x + n), {n}));
    jt(u, out);
    std::vector<double> r = out.to_vector<double>();
    std::copy(r.begin(), r.end(), y);
  };
  double z2 = 0;
  for (double x : zbar) z2 += x * x;
  const double omega = std::sqrt(1 + z2);
  std::vector<cdouble> expected;
  for (int64_t i = 0; i < d; ++i) expected.push_back({0, omega}), expected.push_back({0, -omega});
  while (int64_t(expected.size()) < n) expected.push_back({0, 0});
  // Zero has a non-trivial Jordan structure here; its computed copies spread like sqrt(ulp).
  expect_same_set(app::dense_eigenvalues(op, n), expected, 1e-6);
}

// A nonlinear GAN (MLPs): J^T u from double backward against central differences of v.
TEST(Spectrum, JacobianProductsMatchFiniteDifferencesOfTheVelocity) {
  auto G = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(2, 4, true, DType::f64), std::make_shared<nn::Tanh>(),
      std::make_shared<nn::Linear>(4, 2, true, DType::f64)});
  auto D = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(2, 5, true, DType::f64), std::make_shared<nn::LeakyReLU>(0.2),
      std::make_shared<nn::Linear>(5, 1, true, DType::f64)});
  Generator gen(4);
  G->reset_all(gen, nn::Init::reference);
  D->reset_all(gen, nn::Init::reference);
  solvers::Batch b;
  b.real = testing::random_tensor({6, 2}, DType::f64, 31);
  b.z = testing::random_tensor({6, 2}, DType::f64, 32);
  solvers::GanGame game(solvers::Players::unconditional(G, D), [&] { return b; }, {});
  const int64_t n = game.state().numel();
  auto jt = game.jacobian_transpose(b);
  const std::vector<double> y0 = game.state().to_vector<double>();
  Tensor v = Tensor::empty({n}, DType::f64);
  auto velocity_at = [&](const std::vector<double>& y) {
    game.state().copy_(Tensor::from_vector(y, {n}));
    game.velocity(b, v);
    return v.to_vector<double>();
  };
  const double h = 1e-6;
  Tensor u = Tensor::empty({n}, DType::f64), out = Tensor::empty({n}, DType::f64);
  for (int64_t j : {int64_t(0), int64_t(7), n / 2, n - 1}) {
    // Column j of J by differences, and (J^T e_i)_j = J_ij for every row i.
    std::vector<double> yp = y0, ym = y0;
    yp[size_t(j)] += h, ym[size_t(j)] -= h;
    const std::vector<double> vp = velocity_at(yp), vm = velocity_at(ym);
    game.state().copy_(Tensor::from_vector(y0, {n}));
    for (int64_t i = 0; i < n; i += 3) {
      std::vector<double> e(size_t(n), 0.0);
      e[size_t(i)] = 1;
      u.copy_(Tensor::from_vector(e, {n}));
      jt(u, out);
      const double fd = (vp[size_t(i)] - vm[size_t(i)]) / (2 * h);
      EXPECT_NEAR(out.to_vector<double>()[size_t(j)], fd, 1e-7 * (1 + std::fabs(fd))) << "J[" << i << "][" << j << "]";
    }
    // The forward product J e_j (the double-vjp trick, a third derivative of the losses) is
    // the same column.
    auto jp = game.jacobian_product(b);
    std::vector<double> e(size_t(n), 0.0);
    e[size_t(j)] = 1;
    u.copy_(Tensor::from_vector(e, {n}));
    jp(u, out);
    const std::vector<double> col = out.to_vector<double>();
    for (int64_t i = 0; i < n; ++i) {
      const double fd = (vp[size_t(i)] - vm[size_t(i)]) / (2 * h);
      EXPECT_NEAR(col[size_t(i)], fd, 1e-7 * (1 + std::fabs(fd))) << "(J e_" << j << ")[" << i << "]";
    }
  }
}

TEST(Spectrum, StabilityFunctionsMeetTheirKnownBoundaries) {
  EXPECT_NEAR(app::growth("euler", -2.0), 1.0, 1e-14);
  EXPECT_NEAR(app::growth("rk2", -2.0), 1.0, 1e-14);
  EXPECT_NEAR(app::growth("rk2", cdouble(0, 1)), std::sqrt(1.25), 1e-14);  // |1 + i - 1/2|
  EXPECT_NEAR(app::growth("rk4", cdouble(0, 2 * std::sqrt(2.0))), 1.0, 1e-12);  // RK4 reaches the axis at 2 sqrt 2
  EXPECT_NEAR(app::growth("rk4", -2.785293563405282), 1.0, 1e-9);  // RK4's real-axis boundary
  EXPECT_NEAR(app::growth("ab2", -1.0), 1.0, 1e-12);               // AB2: (-1, 0)
  EXPECT_NEAR(app::growth("ab3", -6.0 / 11), 1.0, 1e-9);           // AB3: (-6/11, 0)
  EXPECT_LT(app::growth("ab2", -0.5), 1.0);
  EXPECT_GT(app::growth("ab2", cdouble(0, 0.5)), 1.0);  // no stretch of the imaginary axis
  EXPECT_NEAR(app::growth("trapezoid", cdouble(0, 37)), 1.0, 1e-14);  // A-stable, boundary Re z = 0
  EXPECT_LT(app::growth("implicit_midpoint", cdouble(-1e6, 3)), 1.0);
  EXPECT_THROW(app::growth("rk5", 0.1), Error);
}

TEST(SpectrumApp, MogRunDenseAndArnoldiAgreeAndWritePlotAndJson) {
  namespace fs = std::filesystem;
  const std::string dir = testing::temp_dir() + "/spectrum-mog";
  fs::remove_all(dir);
  std::string log;
  ASSERT_EQ(run(bin("odegan_mog") + " --device cpu --steps 4 --checkpoint-every 2 --eval-every 0 --batch 32 "
                "--hidden 6 --latent 3 --eval-samples 16 --figure-steps 0,4 --out " + dir, &log), 0) << log;
  ASSERT_EQ(run(bin("odegan_spectrum") + " --run " + dir + " --device cpu --k 4", &log), 0) << log;
  EXPECT_NE(log.find("inside the stability region of"), std::string::npos) << log;
  const nlohmann::json dense = nlohmann::json::parse(std::ifstream(dir + "/spectrum/spectrum.json"));
  EXPECT_EQ(dense["step"], 4);
  EXPECT_EQ(dense["eigenvalues_found"], dense["parameters"]);  // dense: every eigenvalue
  EXPECT_TRUE(fs::file_size(dir + "/spectrum/stability.png") > 1000);
  EXPECT_TRUE(fs::exists(dir + "/spectrum/eigenvalues.csv"));
  // Arnoldi on the same checkpoint and batch finds the same largest-modulus eigenvalues.
  ASSERT_EQ(run(bin("odegan_spectrum") + " --run " + dir + " --device cpu --k 4 --dense-limit 0 --out " + dir +
                    "/arnoldi --steps 2",
                &log), 0) << log;
  ASSERT_EQ(run(bin("odegan_spectrum") + " --run " + dir + " --device cpu --k 4 --out " + dir + "/dense2 --steps 2",
                &log), 0) << log;
  const nlohmann::json a = nlohmann::json::parse(std::ifstream(dir + "/arnoldi/spectrum.json"));
  const nlohmann::json d2 = nlohmann::json::parse(std::ifstream(dir + "/dense2/spectrum.json"));
  EXPECT_EQ(a["step"], 2);
  ASSERT_EQ(a["largest_modulus"].size(), 4u) << a.dump();
  for (int i = 0; i < 4; ++i) {
    const double ma = std::hypot(a["largest_modulus"][i][0].get<double>(), a["largest_modulus"][i][1].get<double>());
    const double md = std::hypot(d2["largest_modulus"][i][0].get<double>(), d2["largest_modulus"][i][1].get<double>());
    EXPECT_NEAR(ma, md, 1e-6 * md) << i;
  }
  // Errors name the thing.
  EXPECT_NE(run(bin("odegan_spectrum") + " --run " + dir + "/nothing", &log), 0);
  EXPECT_NE(log.find("no config.json"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_spectrum") + " --run " + dir + " --steps 3", &log), 0);
  EXPECT_NE(log.find("no checkpoint"), std::string::npos) << log;
}

}  // namespace
}  // namespace odegan
