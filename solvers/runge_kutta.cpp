#include "solvers/runge_kutta.h"

#include <algorithm>
#include <cmath>

#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace odegan::solvers {

using kernels::lincomb;

RungeKutta::RungeKutta(ButcherTableau tableau) : tab_(std::move(tableau)) { tab_.validate(); }

void RungeKutta::ensure(const Tensor& y) {
  auto fits = [&](const Tensor& t) {
    return t.defined() && t.numel() == y.numel() && t.dtype() == y.dtype() && t.device() == y.device();
  };
  const bool sequential = tab_.sequential();
  const size_t nk = sequential ? 1 : static_cast<size_t>(tab_.stages());
  k_.resize(nk);
  for (Tensor& k : k_)
    if (!fits(k)) k = Tensor::empty({y.numel()}, y.dtype(), y.device());
  // Euler needs neither a start copy nor an accumulator: y += h k.
  if (tab_.stages() > 1 && !fits(y0_)) y0_ = Tensor::empty({y.numel()}, y.dtype(), y.device());
  if (sequential && tab_.stages() > 1 && !fits(acc_)) acc_ = Tensor::empty({y.numel()}, y.dtype(), y.device());
  if (tab_.embedded() && !fits(err_)) err_ = Tensor::empty({y.numel()}, y.dtype(), y.device());
}

size_t RungeKutta::workspace_bytes() const {
  size_t n = 0;
  for (const Tensor* t : {&y0_, &acc_, &err_})
    if (t->defined()) n += t->nbytes();
  for (const Tensor& k : k_) n += k.nbytes();
  return n;
}

StepInfo RungeKutta::step(Tensor& y, double t, double h, const Velocity& v, const Tensor* v_start) {
  check_defined(y, "RungeKutta::step", "state");
  ODEGAN_CHECK(is_floating(y.dtype()), "RungeKutta::step: state must be float, got ", describe(y));
  Tensor flat = y.reshape({y.numel()});
  ensure(flat);
  if (v_start) ODEGAN_CHECK(v_start->numel() == flat.numel(), "RungeKutta::step: v_start has ", v_start->numel(),
                            " values, the state ", flat.numel());
  return tab_.sequential() ? step_sequential(flat, t, h, v, v_start) : step_general(flat, t, h, v, v_start);
}

// Every stage point is y0 + h a[i][i-1] k_{i-1}, so one velocity buffer suffices:
//   y <- y0 + h a k;  k <- v(y);  acc <- acc + h b_i k;  ...;  y <- acc + h b_s k_s
StepInfo RungeKutta::step_sequential(Tensor& y, double t, double h, const Velocity& v, const Tensor* v_start) {
  const int s = tab_.stages();
  Tensor& k = k_[0];
  auto stage0 = [&] {
    if (v_start)
      k.copy_(v_start->reshape({k.numel()}));
    else
      v(y, t, k);
  };
  if (s == 1) {  // Euler
    stage0();
    lincomb(y, 1.0, y, {{h * tab_.b[0], k}});
    return {h, -1, 1, 0};
  }
  y0_.copy_(y);
  for (int i = 0; i < s; ++i) {
    if (i > 0) lincomb(y, 1.0, y0_, {{h * tab_.a[i][i - 1], k}});
    if (i == 0)
      stage0();
    else
      v(y, t + tab_.c[i] * h, k);
    if (i == 0)
      lincomb(acc_, 1.0, y0_, {{h * tab_.b[0], k}});
    else if (i < s - 1)
      lincomb(acc_, 1.0, acc_, {{h * tab_.b[i], k}});
    else
      lincomb(y, 1.0, acc_, {{h * tab_.b[i], k}});
  }
  return {h, -1, s, 0};
}

// General tableaus keep every stage velocity: y_i = y0 + h sum_j a[i][j] k_j.
StepInfo RungeKutta::step_general(Tensor& y, double t, double h, const Velocity& v, const Tensor* v_start) {
  const int s = tab_.stages();
  y0_.copy_(y);
  auto combine = [&](Tensor& out, const std::vector<double>& w) {
    std::vector<std::pair<double, Tensor>> terms;
    for (int j = 0; j < s; ++j)
      if (w[j] != 0.0) terms.push_back({h * w[j], k_[j]});
    lincomb(out, 1.0, y0_, terms);
  };
  for (int i = 0; i < s; ++i) {
    if (i > 0) combine(y, tab_.a[i]);
    if (i == 0 && v_start)
      k_[0].copy_(v_start->reshape({y.numel()}));
    else
      v(y, t + tab_.c[i] * h, k_[i]);
  }
  StepInfo info{h, -1, s, 0};
  if (tab_.embedded()) {
    std::vector<std::pair<double, Tensor>> terms;
    for (int j = 0; j < s; ++j)
      if (tab_.b[j] != tab_.b_hat[j]) terms.push_back({h * (tab_.b[j] - tab_.b_hat[j]), k_[j]});
    lincomb(err_, 0.0, y0_, terms);
    info.error = std::sqrt(kernels::sum_squares(err_).item() / static_cast<double>(std::max<int64_t>(y.numel(), 1)));
  }
  combine(y, tab_.b);
  return info;
}

// ---------------------------------------------------------------- adaptive

AdaptiveRungeKutta::AdaptiveRungeKutta(ButcherTableau tableau, double h0, AdaptiveOptions options)
    : rk_(std::move(tableau)), h_(h0), opt_(options) {
  ODEGAN_CHECK(rk_.tableau().embedded(), "adaptive stepping needs an embedded method; '", rk_.tableau().name,
               "' has none (use fehlberg, bs32 or dopri5)");
  ODEGAN_CHECK(h0 > 0, "adaptive stepping: initial step must be positive, got ", h0);
}

StepInfo AdaptiveRungeKutta::step(Tensor& y, double t, const Velocity& v, double t_end, const Tensor* v_start) {
  using kernels::Binary;
  using kernels::Unary;
  const ButcherTableau& tab = rk_.tableau();
  const int q = std::min(tab.order, tab.embedded_order);
  Tensor start = y.clone();
  StepInfo total;
  for (int tries = 0;; ++tries) {
    double h = std::min(h_, t_end - t);
    ODEGAN_CHECK(h >= opt_.h_min || h == t_end - t, "adaptive stepping: step size fell below ", opt_.h_min,
                 " at t = ", t, " (the problem may be stiff, or the velocity not finite)");
    StepInfo info = rk_.step(y, t, h, v, v_start);
    total.evaluations += info.evaluations;
    // Scaled RMS error: e / (atol + rtol * max(|y0|, |y1|)).
    Tensor scale = kernels::binary(Binary::maximum, kernels::unary(Unary::abs, start.reshape({y.numel()})),
                                   kernels::unary(Unary::abs, y.reshape({y.numel()})));
    kernels::unary(Unary::affine, scale, scale, opt_.rtol, opt_.atol);
    Tensor ratio = kernels::binary(Binary::div, rk_.error_vector(), scale);
    double err = std::sqrt(kernels::sum_squares(ratio).item() / static_cast<double>(std::max<int64_t>(y.numel(), 1)));
    const bool finite = std::isfinite(err);
    double factor = finite ? opt_.safety * std::pow(std::max(err, 1e-10), -1.0 / (q + 1)) : 0.2;
    factor = std::clamp(factor, 0.2, 5.0);
    if (finite && err <= 1.0) {
      total.h = h;
      total.error = info.error;
      total.rejected = tries;
      h_ = std::clamp(h * factor, opt_.h_min, opt_.h_max);
      return total;
    }
    ODEGAN_CHECK(tries < opt_.max_rejects, "adaptive stepping: ", opt_.max_rejects,
                 " rejected steps in a row at t = ", t, " (last scaled error ", err, ")");
    y.copy_(start);
    h_ = std::max(h * factor, opt_.h_min);
  }
}

}  // namespace odegan::solvers
