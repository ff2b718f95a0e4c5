// The rotating-field toy (paper eq. 7-9): Euler diverges, Heun and RK4 converge to the
// Nash point, and their trajectories agree with the analytic solution to their order.
#include <gtest/gtest.h>

#include <cmath>

#include "solvers/runge_kutta.h"
#include "solvers/toy_game.h"

namespace odegan::solvers {
namespace {

std::array<double, 2> integrate(const std::string& method, double h, int steps, const RotatingGame& game) {
  RungeKutta rk(tableau_by_name(method));
  Tensor y = Tensor::from_vector<double>({1.0, 1.0}, {2});
  for (int i = 0; i < steps; ++i)
    rk.step(y, i * h, h, [&](const Tensor& s, double t, Tensor& v) { game.velocity(s, t, v); });
  std::vector<double> v = y.to_vector<double>();
  return {v[0], v[1]};
}

TEST(Toy, VelocityFromTheLossesIsTheLinearField) {
  RotatingGame game(0.1);
  Tensor y = Tensor::from_vector<double>({0.7, -0.3}, {2}), v = Tensor::empty({2}, DType::f64);
  game.velocity(y, 0, v);
  std::vector<double> vv = v.to_vector<double>();
  EXPECT_NEAR(vv[0], -0.1 * 0.7 + -0.3, 1e-15);  // -(eps theta - phi)
  EXPECT_NEAR(vv[1], -0.7, 1e-15);                // -theta
}

TEST(Toy, EulerDivergesHeunAndRk4ConvergeAtThePapersStep) {
  RotatingGame game(0.1);
  const double start = std::hypot(1.0, 1.0);
  auto euler_end = integrate("euler", 0.2, 200, game);
  EXPECT_GT(std::hypot(euler_end[0], euler_end[1]), 5 * start);
  for (const char* m : {"heun", "rk4"}) {
    auto end = integrate(m, 0.2, 200, game);
    EXPECT_LT(std::hypot(end[0], end[1]), 0.2 * start) << m;
  }
  // The exact solution decays as exp(-eps t / 2).
  auto e = game.exact({1.0, 1.0}, 40.0);
  EXPECT_LT(std::hypot(e[0], e[1]), start * std::exp(-0.1 * 40 / 2) * 1.2);
}

TEST(Toy, AgreesWithTheAnalyticSolutionToTheSolversOrder) {
  RotatingGame game(0.1);
  auto exact = game.exact({1.0, 1.0}, 20.0);
  for (auto [method, order] : {std::pair<const char*, double>{"heun", 2}, {"rk4", 4}}) {
    auto a = integrate(method, 0.1, 200, game), b = integrate(method, 0.05, 400, game);
    const double ea = std::hypot(a[0] - exact[0], a[1] - exact[1]), eb = std::hypot(b[0] - exact[0], b[1] - exact[1]);
    EXPECT_NEAR(std::log2(ea / eb), order, 0.2) << method;
  }
  EXPECT_THROW(RotatingGame(2.5), Error);
}

}  // namespace
}  // namespace odegan::solvers
