// One training step of the GAN game, whatever the method: an explicit Runge-Kutta
// tableau, an adaptive embedded pair, a linear multistep method, an implicit method, the
// players in turn (symplectic Euler), or an optimiser baseline. Every app takes its
// method from one registry, so `--method` accepts the same names everywhere:
//
//   std::unique_ptr<Stepper> s = make_stepper("rk4", options);
//   StepStats st = s->step(game, h);       // one step of Algorithm 1
//   StepperState ck = s->state();          // what a checkpoint must hold to resume exactly
//
// The ODE steppers all follow Algorithm 1 of the ODE-GAN paper:
//   g = g_theta(y);  y = ODEStep(y, v, h);  theta -= h * lambda * g
// with the regulariser and the first velocity from one forward pass at the step's start.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "solvers/gan_game.h"
#include "solvers/optimizers.h"
#include "solvers/runge_kutta.h"

namespace odegan::solvers {

// Implicit methods solve y1 = y0 + h F(y0, y1) from an Euler predictor, until the scaled
// change sqrt(mean((dy / (atol + rtol |y1|))^2)) <= 1 or `max_iterations` iterations; a step
// that does not converge is taken anyway and reported (StepStats::converged = false).
//   fixed_point: y1 <- y0 + h F(y0, y1), one velocity per iteration; converges while
//                h |lambda| / 2 < 1 for the Jacobian's eigenvalues lambda.
//   newton:      Newton on y1 - y0 - h F = 0 with (I - h/2 J) solved by GMRES (at most
//                `krylov` products J w per iteration, from autodiff: GanGame::jacobian_product),
//                which keeps converging where the fixed point cannot (stiff or strongly
//                rotational fields). Not with per-player games.
struct ImplicitOptions {
  double rtol = 1e-3, atol = 1e-6;
  int max_iterations = 20;
  std::string solver = "fixed_point";  // fixed_point | newton
  int krylov = 10;                     // newton: GMRES iterations per Newton iteration
  double krylov_rtol = 1e-2;           // newton: GMRES relative residual (inexact Newton)
};

struct StepperOptions {
  AdamOptions adam;              // adam, <method>_adam, sngan
  int n_dis = 5;                 // sngan: discriminator steps per generator step
  AdaptiveOptions adaptive;      // adaptive_<method>
  ImplicitOptions implicit;      // implicit_midpoint, trapezoid
};

// What a stepper carries from one step to the next (Adam's moments, the multistep
// history, the adaptive step proposal): tensors and numbers, stored in checkpoints under
// these names. Numbers that are counts are whole.
struct StepperState {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> numbers;
};

class Stepper {
 public:
  virtual ~Stepper() = default;
  const std::string& name() const { return name_; }
  // One step. h is the step size of the ODE steppers (the learning rate of RK + Adam, the
  // first proposal of adaptive ones); the optimiser baselines (adam, sngan) use their
  // own learning rate.
  virtual StepStats step(GanGame& game, double h) = 0;
  // Checkpoint state, and its restoration: every tensor is checked against the game's
  // state size and every number against its range; a missing entry means the state of a
  // fresh stepper. `source` names the checkpoint in messages.
  virtual StepperState state() const { return {}; }
  virtual void load_state(const StepperState& /*state*/, const GanGame& /*game*/, const std::string& /*source*/) {}
  // Bytes held by the stepper's own buffers (besides the game's state and gradients).
  virtual size_t workspace_bytes() const { return 0; }
  // Whether this method uses the gradient regulariser (the SN-GAN baseline does not).
  virtual bool uses_regulariser() const { return true; }
  // Whether step() reports solver iterations (implicit methods).
  virtual bool reports_iterations() const { return false; }
  // Whether step() reports an error estimate with every step (adaptive methods).
  virtual bool reports_error() const { return false; }

 protected:
  explicit Stepper(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

// The registry. Names (aliases in parentheses):
//   explicit RK:   euler (gd), rk2 (heun), midpoint, rk4, extragradient, fehlberg (rkf23), bs32, dopri5
//   adaptive:      adaptive_fehlberg, adaptive_bs32, adaptive_dopri5
//   multistep:     ab2, ab3
//   implicit:      implicit_midpoint, trapezoid
//   in turn:       symplectic_euler
//   RK + Adam:     <sequential explicit method>_adam (euler_adam, rk2_adam, midpoint_adam, rk4_adam, ...)
//   optimisers:    adam (simultaneous), sngan (alternating Adam, n_dis D steps per G step)
// An unknown name is an error listing these.
std::unique_ptr<Stepper> make_stepper(const std::string& name, const StepperOptions& options = {});
// Every accepted name (aliases included), for checks and tests.
std::vector<std::string> stepper_names();
// The list above as one line for --help.
std::string stepper_help();

// The embedded (Fehlberg 2(3)) local error estimate of a step of size h from the game's
// current state on one batch, without moving the state (the paper's error tracking).
double local_error_estimate(GanGame& game, double h);

// Adams-Bashforth weights for variable steps: y1 = y0 + h sum_j w[j] f_{-j}, where f_0 is
// the velocity at the current point and f_{-j} the one j steps back; `past_steps[j]` is
// the size of the step that ended at point -j (so past_steps[0] led to the current point).
// Order = past_steps.size() + 1. Constant steps give 3/2, -1/2 and 23/12, -16/12, 5/12.
std::vector<double> adams_bashforth_weights(double h, const std::vector<double>& past_steps);

}  // namespace odegan::solvers
