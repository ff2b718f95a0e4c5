// The GAN game as an ODE: from a generator G (parameters phi), a discriminator D
// (parameters theta), a loss and a data source it builds the velocity
//   v(theta, phi) = -[d l_D / d theta,  d l_G / d phi]
// over ONE flat state y = [theta; phi], the regulariser g_theta = grad_theta ||d l_G / d phi||^2
// (a gradient of a gradient), and one training step of Algorithm 1 of the ODE-GAN paper:
//   g = g_theta(y);  y = ODEStep(y, v, h);  theta -= h * lambda * g.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "autodiff/var.h"
#include "core/rng.h"
#include "layers/module.h"
#include "solvers/optimizers.h"
#include "solvers/runge_kutta.h"

namespace odegan::solvers {

using ad::Var;

// The loss pair. Nash values: what l_D and l_G equal when D cannot tell real from fake.
enum class GanLoss {
  non_saturating,  // l_D = E softplus(-D(x)) + E softplus(D(G(z))),  l_G = E softplus(-D(G(z)))   (log 4, log 2)
  saturating,      // l_D as above,                                  l_G = -E softplus(D(G(z)))   (log 4, -log 2)
  hinge,           // l_D = E relu(1 - D(x)) + E relu(1 + D(G(z))),  l_G = -E D(G(z))             (2, 0)
  wasserstein,     // l_D = E D(G(z)) - E D(x),                      l_G = -E D(G(z))             (0, 0)
};
GanLoss parse_loss(const std::string& name);  // non_saturating | saturating | hinge | wasserstein
std::string loss_name(GanLoss l);
double nash_loss_d(GanLoss l);
double nash_loss_g(GanLoss l);

// One minibatch: real data, latent noise, and class labels for conditional models
// (undefined otherwise; int32 (N)).
struct Batch {
  Tensor real;
  Tensor real_labels;
  Tensor z;
  Tensor fake_labels;
};

// The two players. The modules own the parameters; the call functions say how to run
// them (conditional models take labels). D returns logits (N, 1) or (N, 2); with two
// logits the game uses their difference, as the reference code's softmax loss does.
struct Players {
  std::shared_ptr<nn::Module> generator;
  std::shared_ptr<nn::Module> discriminator;
  std::function<Var(const Var& z, const Tensor& labels)> generate;
  std::function<Var(const Var& x, const Tensor& labels)> discriminate;
  // Players whose modules take one input (labels ignored).
  static Players unconditional(std::shared_ptr<nn::Module> g, std::shared_ptr<nn::Module> d);
};

struct GameOptions {
  GanLoss loss = GanLoss::non_saturating;
  // joint: both players move to every stage point (default). per_player: each player is
  // integrated with the other frozen at the step's start (the reference MoG notebook).
  bool per_player = false;
  // Fresh data and noise for every stage (the reference CIFAR code) or one batch for
  // all stages of a step (the reference MoG notebook).
  bool fresh_batch_per_stage = false;
  double reg_lambda = 0.0;  // lambda; 0 turns the regulariser off
};

// What a training step reports (losses and norms at the step's start point).
struct StepStats {
  double loss_d = 0, loss_g = 0;
  double grad_norm_d = 0, grad_norm_g = 0;  // ||d l_D / d theta||, ||d l_G / d phi||
  double reg_norm = 0;                      // ||g_theta||
  double error = -1;                        // embedded error estimate (when computed)
  double h = 0;
  int evaluations = 0;
  bool finite = true;  // all of the above and the new state are finite
};

// Draws batches: `batch_fn(stage)` returns the batch for a stage (the game asks once per
// step when batches are shared).
using BatchFn = std::function<Batch()>;

class GanGame {
 public:
  GanGame(Players players, BatchFn batches, GameOptions options);

  // y = [theta; phi]: the flat state (D's parameters, then G's) that the solvers move.
  Tensor& state() { return state_; }
  Tensor theta() { return state_.slice(0, n_theta_); }
  Tensor phi() { return state_.slice(n_theta_, state_.numel()); }
  int64_t num_theta() const { return n_theta_; }
  int64_t num_phi() const { return state_.numel() - n_theta_; }
  const GameOptions& options() const { return opt_; }
  Players& players() { return players_; }
  nn::Module& pair() { return *pair_; }

  // v(y) for one batch, into `v` (the state's layout). Fills `stats` with losses and
  // gradient norms when given.
  void velocity(const Batch& batch, Tensor& v, StepStats* stats = nullptr);
  // g_theta = grad_theta ||d l_G / d phi||^2 into `out` (theta's layout), and, from the same
  // forward and backward, the velocity v for this batch (the first stage's).
  void regulariser_and_velocity(const Batch& batch, Tensor& g_theta, Tensor& v, StepStats* stats);

  // One step of Algorithm 1 with an explicit Runge-Kutta method (or Adam-preconditioned
  // stages, see RungeKuttaAdam). The regulariser is evaluated once, at the start point.
  StepStats step(RungeKutta& rk, double h);
  // Adaptive step size (embedded method with error control); the step taken is in
  // StepStats::h and the next proposal in the integrator.
  StepStats step_adaptive(AdaptiveRungeKutta& rk);
  // Same with the reference code's "RK + Adam": stage and final updates go through Adam.
  StepStats step_adam(const ButcherTableau& tab, Adam& adam, double h);
  // Simultaneous gradient descent with an optimiser (the baselines; equal to Euler for Sgd).
  StepStats step_optimizer(Adam& adam);
  // SN-GAN style alternating updates: n_dis discriminator steps, then one generator step.
  StepStats step_alternating(Adam& adam_d, Adam& adam_g, int n_dis);

  // The embedded (Fehlberg 2(3)) local error estimate for a step of size h from the current
  // state on one batch, without moving the state (for the paper's error tracking).
  double error_estimate(double h);

 private:
  Batch next_batch();
  // Evaluates losses for a batch at the current parameters (graph recorded).
  void losses(const Batch& batch, Var& loss_d, Var& loss_g);
  void velocity_into(const Batch& batch, Tensor& v, StepStats* stats, bool d_part, bool g_part);
  // The start of every ODE step: a batch, the regulariser and the first velocity.
  void begin_step(StepStats& stats);
  // The velocity field of the current step (stage 0 reuses the start's velocity).
  Velocity stage_field(double t0);
  void end_step(StepStats& stats, double h);

  Players players_;
  std::shared_ptr<nn::Module> pair_;
  BatchFn batches_;
  GameOptions opt_;
  Tensor state_, grads_;
  int64_t n_theta_ = 0;
  Tensor reg_, v_tmp_, start_;
  Batch shared_;
};

}  // namespace odegan::solvers
