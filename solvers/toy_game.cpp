#include "solvers/toy_game.h"

#include <cmath>

#include "autodiff/engine.h"
#include "autodiff/functions.h"

namespace odegan::solvers {

RotatingGame::RotatingGame(double eps) : eps_(eps) {
  ODEGAN_CHECK(eps >= 0 && eps < 2, "RotatingGame: eps must be in [0, 2), got ", eps);
}

void RotatingGame::velocity(const Tensor& y, double, Tensor& v) const {
  using namespace ad;
  std::vector<double> s = y.to_vector<double>();
  Var theta(Tensor::scalar(s[0], DType::f64), true), phi(Tensor::scalar(s[1], DType::f64), true);
  Var loss_d = sub(mul(square(theta), 0.5 * eps_), mul(theta, phi));
  Var loss_g = mul(theta, phi);
  const double vt = -grad(loss_d, theta).item(), vp = -grad(loss_g, phi).item();
  v.copy_(Tensor::from_doubles({vt, vp}, v.shape(), v.dtype()).to(v.device()));
}

std::array<double, 2> RotatingGame::exact(std::array<double, 2> y0, double t) const {
  // theta'' + eps theta' + theta = 0: theta = e^{-eps t/2} (a0 cos wt + b0 sin wt),
  // phi = theta' + eps theta (from theta' = -eps theta + phi).
  const double w = std::sqrt(4 - eps_ * eps_) / 2, decay = std::exp(-eps_ * t / 2);
  const double a0 = y0[0], b0 = (y0[1] - eps_ * y0[0] / 2) / w;
  const double c = std::cos(w * t), s = std::sin(w * t);
  const double th = decay * (a0 * c + b0 * s);
  const double dth = decay * (-eps_ / 2 * (a0 * c + b0 * s) + w * (-a0 * s + b0 * c));
  return {th, dth + eps_ * th};
}

}  // namespace odegan::solvers
