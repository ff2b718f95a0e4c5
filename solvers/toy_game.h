// The paper's two-player toy with a strong rotational field (Sec. 3.2.2, eq. 7):
//   l_D(theta, phi) = eps/2 theta^2 - theta phi,   l_G(theta, phi) = theta phi,
// whose velocity v = -[d l_D/d theta, d l_G/d phi] = -[[eps, -1], [1, 0]] [theta, phi]
// spirals into the Nash point (0, 0) for eps > 0 (eq. 8-9), while Euler's method with a
// large step spirals out.
#pragma once
#include <array>

#include "core/tensor.h"

namespace odegan::solvers {

class RotatingGame {
 public:
  explicit RotatingGame(double eps = 0.1);
  // v(y) from the losses through the autodiff engine (y = [theta, phi], float64).
  void velocity(const Tensor& y, double t, Tensor& v) const;
  // The exact solution from y0 at time t (eq. 8-9; needs eps < 2).
  std::array<double, 2> exact(std::array<double, 2> y0, double t) const;
  double eps() const { return eps_; }

 private:
  double eps_;
};

}  // namespace odegan::solvers
