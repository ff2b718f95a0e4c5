// The GAN game as an ODE: from a generator G (parameters phi), a discriminator D
// (parameters theta), a loss and a data source it builds the velocity
//   v(theta, phi) = -[d l_D / d theta,  d l_G / d phi]
// over ONE flat state y = [theta; phi], and the regulariser
// g_theta = grad_theta ||d l_G / d phi||^2 (a gradient of a gradient). It is the vector
// field only: how the state moves (Runge-Kutta, multistep, implicit, Adam, ...) is a
// Stepper's business (solvers/stepper.h).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "autodiff/var.h"
#include "core/comm.h"
#include "core/rng.h"
#include "layers/module.h"
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
  // Data parallelism: each rank evaluates the losses on its shard of the global batch
  // (equal shards), and the game all-reduces what makes the field global: the loss
  // gradients (their mean over ranks is the full batch's gradient), the losses for the
  // statistics, and the regulariser, which is taken of the GLOBAL d l_G / d phi:
  //   g_theta = grad_theta ||a||^2,  a = (1/R) sum_r a_r,  a_r = d l_G^r / d phi
  //           = (1/R) sum_r 2 (d a_r / d theta)^T a,
  // i.e. all-reduce a_r first, then each rank's vector-Jacobian product with the global a,
  // then all-reduce those. (||a_r||^2 per rank would be a different, wrong regulariser.)
  // Null or one rank: single process, nothing reduced.
  std::shared_ptr<Communicator> comm;
  // With several ranks: all-reduce the loss gradients in buckets of about this many bytes
  // while the backward pass is still running (GradientBuckets, as PyTorch's DDP), instead of
  // one all-reduce after it (0). The same bits on two ranks either way.
  size_t bucket_bytes = 0;
};

// What a training step reports (losses and norms at the step's start point).
struct StepStats {
  double loss_d = 0, loss_g = 0;
  double grad_norm_d = 0, grad_norm_g = 0;  // ||d l_D / d theta||, ||d l_G / d phi||
  double reg_norm = 0;                      // ||g_theta||
  double error = -1;                        // embedded error estimate (when computed)
  double h = 0;                             // the step taken
  int evaluations = 0;                      // velocity evaluations (batches through both players)
  int rejected = 0;                         // adaptive methods: rejected tries before the accepted step
  int iterations = -1;                      // implicit methods: solver iterations (-1: not implicit)
  bool converged = true;                    // implicit methods: the iteration met its tolerance
  bool finite = true;  // all of the above and the new state are finite
};

// Draws batches: `batch_fn(stage)` returns the batch for a stage (the game asks once per
// step when batches are shared).
using BatchFn = std::function<Batch()>;

class GanGame {
 public:
  GanGame(Players players, BatchFn batches, GameOptions options);

  // y = [theta; phi]: the flat state (D's parameters, then G's) that the steppers move.
  // The players' parameters are views into it.
  Tensor& state() { return state_; }
  const Tensor& state() const { return state_; }
  Tensor theta() { return state_.slice(0, n_theta_); }
  Tensor phi() { return state_.slice(n_theta_, state_.numel()); }
  int64_t num_theta() const { return n_theta_; }
  int64_t num_phi() const { return state_.numel() - n_theta_; }
  const GameOptions& options() const { return opt_; }
  Players& players() { return players_; }
  nn::Module& pair() { return *pair_; }

  // The next batch from the data source.
  Batch next_batch() { return batches_(); }
  // Moves the players to y (state layout). Nothing is copied when y is the state buffer
  // itself, as it is for the Runge-Kutta integrators, which move the state in place.
  void set_state(const Tensor& y);

  // Which players' velocities an evaluation computes.
  enum class Part { both, discriminator, generator };
  // v at the current state for one batch, into `v` (the state's layout; with a `part`
  // only that player's slice is written). Fills `stats` with the losses and the computed
  // gradient norms when given.
  void velocity(const Batch& batch, Tensor& v, StepStats* stats = nullptr, Part part = Part::both);
  // g_theta = grad_theta ||d l_G / d phi||^2 into `g_theta` (theta's layout) and, from the
  // same forward and backward, the velocity v for this batch.
  void regulariser_and_velocity(const Batch& batch, Tensor& g_theta, Tensor& v, StepStats* stats);
  // theta -= h lambda g_theta (the last line of Algorithm 1).
  void apply_regulariser(const Tensor& g_theta, double h);
  // The field's linearisation at the current state for one batch: a function that maps u
  // (state layout) to J^T u, J = dv/dy (the game's Jacobian; its eigenvalues are J^T's).
  // The forward pass and first backward are recorded once, with their graph; each product
  // is one more backward through it (a double backward). Batch norm stays in training
  // mode, as in the field the steppers integrate. The function holds the graph: drop it
  // to free the memory. The state must not move while it is used.
  std::function<void(const Tensor& u, Tensor& out)> jacobian_transpose(const Batch& batch);
  // The same linearisation's forward products w -> J w (for Newton-Krylov solvers): J^T u is
  // linear in u, so J w = d <J^T u, w> / du, a backward through the recorded J^T u graph
  // (the "double-vjp" trick; third-order differentiation of the losses).
  std::function<void(const Tensor& w, Tensor& out)> jacobian_product(const Batch& batch);
  // The loss gradients [d l_D / d theta; d l_G / d phi] of the last evaluation (the
  // velocity is their negative); the optimiser baselines step along them.
  const Tensor& loss_gradients() const { return grads_; }

 private:
  // Evaluates losses for a batch at the current parameters (graph recorded).
  void losses(const Batch& batch, Var& loss_d, Var& loss_g);
  // Whether the game runs on several ranks (GameOptions::comm).
  bool parallel() const;
  // s[0], s[1] (this rank's l_D, l_G) -> their means over the ranks.
  void global_losses(std::vector<double>& s) const;

  Players players_;
  std::shared_ptr<nn::Module> pair_;
  BatchFn batches_;
  GameOptions opt_;
  Tensor state_, grads_;
  int64_t n_theta_ = 0;
  size_t n_theta_params_ = 0, n_params_ = 0;  // parameter tensors: D's, then G's
  GradientBuckets buckets_;                   // when overlapping (GameOptions::bucket_bytes)
  bool overlapping() const { return parallel() && opt_.bucket_bytes > 0; }
};

}  // namespace odegan::solvers
