// Explicit Runge-Kutta integration of dy/dt = v(y, t) over a flat state vector (a model's
// flat parameter buffer). Stage points and the final combination are one fused
// linear-combination kernel each. Sequential methods (Euler, Heun, midpoint, RK4) keep
// only the start state, an accumulator and the current velocity besides y itself.
#pragma once
#include <cmath>
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "solvers/butcher.h"

namespace odegan::solvers {

// Writes v(y, t) into `v` (same shape as y). y holds the point to evaluate at; the
// callback reads it (for a GAN: the parameters are views into y) and must not change it.
using Velocity = std::function<void(const Tensor& y, double t, Tensor& v)>;

struct StepInfo {
  double h = 0;         // the step taken
  double error = -1;    // embedded methods: RMS of the local error estimate h * sum (b - b_hat) k
  int evaluations = 0;  // velocity evaluations (including rejected tries)
  int rejected = 0;     // adaptive stepping: rejected tries before this step
};

class RungeKutta {
 public:
  explicit RungeKutta(ButcherTableau tableau);
  // Advances y in place by one step of size h from time t. `v_start`, when given, is
  // v(y, t), already known to the caller (a GAN step computes it together with the
  // regulariser): the first stage uses it instead of calling v.
  StepInfo step(Tensor& y, double t, double h, const Velocity& v, const Tensor* v_start = nullptr);
  const ButcherTableau& tableau() const { return tab_; }
  // Bytes held by this integrator's buffers (besides y itself).
  size_t workspace_bytes() const;
  // After a step of an embedded method: the local error estimate h * sum (b - b_hat) k,
  // and the state the step started from.
  const Tensor& error_vector() const { return err_; }
  const Tensor& start_state() const { return y0_; }

 private:
  void ensure(const Tensor& y);
  StepInfo step_sequential(Tensor& y, double t, double h, const Velocity& v, const Tensor* v_start);
  StepInfo step_general(Tensor& y, double t, double h, const Velocity& v, const Tensor* v_start);

  ButcherTableau tab_;
  Tensor y0_, acc_;         // start state and running combination
  Tensor err_;              // embedded methods: the error estimate
  std::vector<Tensor> k_;   // one velocity for sequential methods, all stages otherwise
};

// Adaptive step sizes from an embedded pair (Bogacki-Shampine 3(2), Dormand-Prince 5(4),
// Fehlberg 2(3)): a step is accepted when the scaled error
//   sqrt(mean((e_i / (atol + rtol max(|y0_i|, |y1_i|)))^2)) <= 1
// and the next size is h * clamp(safety * err^(-1 / (q + 1)), 0.2, 5), q the lower order.
struct AdaptiveOptions {
  double atol = 1e-6, rtol = 1e-3;
  double safety = 0.9;
  double h_min = 1e-10, h_max = 1e10;
  int max_rejects = 60;
};

class AdaptiveRungeKutta {
 public:
  AdaptiveRungeKutta(ButcherTableau tableau, double h0, AdaptiveOptions options = {});
  // Takes one accepted step (retrying with smaller h as needed); y and the proposal for
  // the next step are updated. Never steps past t_end when given. `v_start` as in
  // RungeKutta::step (valid for every try: they all start at y).
  StepInfo step(Tensor& y, double t, const Velocity& v, double t_end = INFINITY, const Tensor* v_start = nullptr);
  double proposal() const { return h_; }
  void set_proposal(double h) { h_ = h; }
  const ButcherTableau& tableau() const { return rk_.tableau(); }

 private:
  RungeKutta rk_;
  double h_;
  AdaptiveOptions opt_;
};

}  // namespace odegan::solvers
