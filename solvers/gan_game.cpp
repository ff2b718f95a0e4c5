#include "solvers/gan_game.h"

#include <cmath>

#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "kernels/shape_ops.h"

namespace odegan::solvers {

using namespace odegan::ad;  // differentiable functions

GanLoss parse_loss(const std::string& name) {
  if (name == "non_saturating" || name == "ns") return GanLoss::non_saturating;
  if (name == "saturating" || name == "minimax") return GanLoss::saturating;
  if (name == "hinge") return GanLoss::hinge;
  if (name == "wasserstein" || name == "wgan") return GanLoss::wasserstein;
  ODEGAN_FAIL("unknown loss '", name, "': expected non_saturating, saturating, hinge or wasserstein");
}

std::string loss_name(GanLoss l) {
  switch (l) {
    case GanLoss::non_saturating: return "non_saturating";
    case GanLoss::saturating: return "saturating";
    case GanLoss::hinge: return "hinge";
    case GanLoss::wasserstein: return "wasserstein";
  }
  return "?";
}

double nash_loss_d(GanLoss l) {
  switch (l) {
    case GanLoss::non_saturating:
    case GanLoss::saturating: return std::log(4.0);
    case GanLoss::hinge: return 2.0;
    case GanLoss::wasserstein: return 0.0;
  }
  return 0;
}

double nash_loss_g(GanLoss l) {
  switch (l) {
    case GanLoss::non_saturating: return std::log(2.0);
    case GanLoss::saturating: return -std::log(2.0);
    case GanLoss::hinge:
    case GanLoss::wasserstein: return 0.0;
  }
  return 0;
}

Players Players::unconditional(std::shared_ptr<nn::Module> g, std::shared_ptr<nn::Module> d) {
  Players p;
  p.generator = g;
  p.discriminator = d;
  p.generate = [g](const Var& z, const Tensor&) { return (*g)(z); };
  p.discriminate = [d](const Var& x, const Tensor&) { return (*d)(x); };
  return p;
}

namespace {

// Holds both players so that their parameters pack into one buffer: theta, then phi.
class GanPair : public nn::Module {
 public:
  GanPair(std::shared_ptr<nn::Module> d, std::shared_ptr<nn::Module> g) {
    register_module("discriminator", std::move(d));
    register_module("generator", std::move(g));
  }
  std::string type_name() const override { return "GanPair"; }
};

// A discriminator with two logits (fake, real) is scored by their difference: softmax
// cross-entropy on two classes equals the logistic loss on l_real - l_fake.
Var score(const Var& logits) {
  if (logits.ndim() == 2 && logits.shape()[1] == 2) return sub(slice(logits, 1, 1, 2), slice(logits, 1, 0, 1));
  return logits;
}

// The values of several one-element device tensors in one host read (one sync, not one
// per value): a step's statistics.
std::vector<double> read_scalars(const std::vector<Tensor>& scalars) {
  std::vector<Tensor> flat;
  for (const Tensor& t : scalars) flat.push_back(t.reshape({1}));
  return kernels::concat(flat, 0).to_vector<double>();
}

void copy_grads_into(const std::vector<Var>& grads, Tensor& flat, double scale) {
  int64_t at = 0;
  for (const Var& g : grads) {
    Tensor dst = flat.view(at, g.shape());
    kernels::lincomb(dst, scale, g.data(), {});
    at += g.numel();
  }
}

}  // namespace

GanGame::GanGame(Players players, BatchFn batches, GameOptions options)
    : players_(std::move(players)), batches_(std::move(batches)), opt_(options) {
  ODEGAN_CHECK(players_.generator && players_.discriminator && players_.generate && players_.discriminate,
               "GanGame: players are incomplete (need both modules and their call functions)");
  ODEGAN_CHECK(opt_.reg_lambda >= 0, "GanGame: regulariser weight must be >= 0, got ", opt_.reg_lambda);
  pair_ = std::make_shared<GanPair>(players_.discriminator, players_.generator);
  state_ = pair_->flat_parameters();
  grads_ = pair_->flat_gradients();
  n_theta_ = players_.discriminator->num_parameters();
  ODEGAN_CHECK(n_theta_ > 0 && num_phi() > 0, "GanGame: both players need parameters");
}

Batch GanGame::next_batch() { return batches_(); }

void GanGame::losses(const Batch& batch, Var& loss_d, Var& loss_g) {
  Var fake = players_.generate(Var(batch.z), batch.fake_labels);
  Var d_real = score(players_.discriminate(Var(batch.real), batch.real_labels));
  Var d_fake = score(players_.discriminate(fake, batch.fake_labels));
  switch (opt_.loss) {
    case GanLoss::non_saturating:
      loss_d = add(mean(softplus(neg(d_real))), mean(softplus(d_fake)));
      loss_g = mean(softplus(neg(d_fake)));
      break;
    case GanLoss::saturating:
      loss_d = add(mean(softplus(neg(d_real))), mean(softplus(d_fake)));
      loss_g = neg(mean(softplus(d_fake)));
      break;
    case GanLoss::hinge:
      loss_d = add(mean(relu(affine(d_real, -1.0, 1.0))), mean(relu(affine(d_fake, 1.0, 1.0))));
      loss_g = neg(mean(d_fake));
      break;
    case GanLoss::wasserstein:
      loss_d = sub(mean(d_fake), mean(d_real));
      loss_g = neg(mean(d_fake));
      break;
  }
}

void GanGame::velocity_into(const Batch& batch, Tensor& v, StepStats* stats, bool d_part, bool g_part) {
  Var ld, lg;
  losses(batch, ld, lg);
  Tensor gt = grads_.slice(0, n_theta_), gp = grads_.slice(n_theta_, grads_.numel());
  Tensor vt = v.slice(0, n_theta_), vp = v.slice(n_theta_, v.numel());
  if (d_part) {
    gt.zero_();
    BackwardOptions o;
    o.inputs = players_.discriminator->parameters();
    o.retain_graph = g_part;
    backward(ld, o);
    kernels::lincomb(vt, -1.0, gt, {});
  }
  if (g_part) {
    gp.zero_();
    BackwardOptions o;
    o.inputs = players_.generator->parameters();
    backward(lg, o);
    kernels::lincomb(vp, -1.0, gp, {});
  }
  if (stats) {
    std::vector<double> s = read_scalars({ld.data(), lg.data(), kernels::sum_squares(gt), kernels::sum_squares(gp)});
    stats->loss_d = s[0];
    stats->loss_g = s[1];
    if (d_part) stats->grad_norm_d = std::sqrt(s[2]);
    if (g_part) stats->grad_norm_g = std::sqrt(s[3]);
  }
}

void GanGame::velocity(const Batch& batch, Tensor& v, StepStats* stats) { velocity_into(batch, v, stats, true, true); }

void GanGame::regulariser_and_velocity(const Batch& batch, Tensor& g_theta, Tensor& v, StepStats* stats) {
  Var ld, lg;
  losses(batch, ld, lg);
  std::vector<Var> d_params = players_.discriminator->parameters();
  // d l_G / d phi, recorded so that it can be differentiated w.r.t. theta.
  GradOptions keep;
  keep.create_graph = true;
  std::vector<Var> g_phi = grad({lg}, players_.generator->parameters(), {}, keep);
  Tensor gt = grads_.slice(0, n_theta_);
  Tensor vt = v.slice(0, n_theta_), vp = v.slice(n_theta_, v.numel());
  // The first stage's velocity from the same forward pass.
  gt.zero_();
  BackwardOptions o;
  o.inputs = d_params;
  o.retain_graph = true;
  backward(ld, o);
  kernels::lincomb(vt, -1.0, gt, {});
  Tensor gt_sq = stats ? kernels::sum_squares(gt) : Tensor();
  copy_grads_into(g_phi, vp, -1.0);
  // R = ||d l_G / d phi||^2 and its gradient w.r.t. theta (a double backward).
  Var r;
  for (const Var& g : g_phi) r = r.defined() ? add(r, sum_squares(g)) : sum_squares(g);
  gt.zero_();
  BackwardOptions o2;
  o2.inputs = d_params;
  backward(r, o2);
  g_theta.copy_(gt);
  if (stats) {
    std::vector<double> s = read_scalars({ld.data(), lg.data(), gt_sq, r.data(), kernels::sum_squares(g_theta)});
    stats->loss_d = s[0];
    stats->loss_g = s[1];
    stats->grad_norm_d = std::sqrt(s[2]);
    stats->grad_norm_g = std::sqrt(s[3]);
    stats->reg_norm = std::sqrt(s[4]);
  }
}

void GanGame::begin_step(StepStats& stats) {
  shared_ = next_batch();
  if (!v_tmp_.defined()) v_tmp_ = Tensor::empty_like(state_);
  if (opt_.reg_lambda > 0) {
    if (!reg_.defined()) reg_ = Tensor::empty({n_theta_}, state_.dtype(), state_.device());
    regulariser_and_velocity(shared_, reg_, v_tmp_, &stats);
  } else {
    velocity(shared_, v_tmp_, &stats);
  }
  if (opt_.per_player) start_ = state_.clone();
}

Velocity GanGame::stage_field(double t0) {
  return [this, t0](const Tensor&, double t, Tensor& k) {
    if (t == t0) {  // the first stage (c = 0) is the start point: its velocity is known
      k.copy_(v_tmp_);
      return;
    }
    Batch b = opt_.fresh_batch_per_stage ? next_batch() : shared_;
    if (!opt_.per_player) {
      velocity(b, k);
      return;
    }
    // Each player moves against the other frozen at the step's start.
    Tensor th = theta(), ph = phi();
    Tensor th_stage = th.clone(), ph_stage = ph.clone();
    ph.copy_(start_.slice(n_theta_, start_.numel()));
    velocity_into(b, k, nullptr, true, false);
    ph.copy_(ph_stage);
    th.copy_(start_.slice(0, n_theta_));
    velocity_into(b, k, nullptr, false, true);
    th.copy_(th_stage);
  };
}

void GanGame::end_step(StepStats& stats, double h) {
  stats.h = h;
  if (opt_.reg_lambda > 0) {
    Tensor th = theta();
    kernels::axpby(-h * opt_.reg_lambda, reg_, 1.0, th);
  }
  stats.finite = std::isfinite(stats.loss_d) && std::isfinite(stats.loss_g) && kernels::all_finite(state_);
}

StepStats GanGame::step(RungeKutta& rk, double h) {
  StepStats stats;
  begin_step(stats);
  StepInfo info = rk.step(state_, 0.0, h, stage_field(0.0));
  stats.evaluations = info.evaluations;
  stats.error = info.error;
  end_step(stats, h);
  return stats;
}

StepStats GanGame::step_adaptive(AdaptiveRungeKutta& rk) {
  StepStats stats;
  begin_step(stats);
  StepInfo info = rk.step(state_, 0.0, stage_field(0.0));
  stats.evaluations = info.evaluations;
  stats.error = info.error;
  end_step(stats, info.h);
  return stats;
}

StepStats GanGame::step_adam(const ButcherTableau& tab, Adam& adam, double h) {
  ODEGAN_CHECK(tab.sequential(), "RK + Adam needs a sequential method (euler, rk2, midpoint, rk4), not ", tab.name);
  // As the reference CIFAR code: each stage point is y0 moved by one Adam update of the
  // scaled gradient (Adam's moments advance at every stage), the final update is Adam on
  // sum_i b_i g_i from y0, and the regulariser enters the first gradient with weight
  // lambda / b_1 (so that it contributes lambda * g_theta to the final combination).
  StepStats stats;
  stats.h = h;
  adam.set_lr(h);
  shared_ = next_batch();
  Tensor g = Tensor::empty_like(state_);
  const bool reg = opt_.reg_lambda > 0;
  if (reg) {
    if (!reg_.defined()) reg_ = Tensor::empty({n_theta_}, state_.dtype(), state_.device());
    regulariser_and_velocity(shared_, reg_, g, &stats);
  } else {
    velocity(shared_, g, &stats);
  }
  kernels::lincomb(g, -1.0, g, {});  // gradients, not velocities
  if (reg) {
    Tensor gt = g.slice(0, n_theta_);
    kernels::axpby(opt_.reg_lambda / tab.b[0], reg_, 1.0, gt);
  }
  Tensor y0 = state_.clone();
  Tensor acc = Tensor::zeros_like(state_);
  kernels::axpby(tab.b[0], g, 1.0, acc);
  for (int i = 1; i < tab.stages(); ++i) {
    Tensor scaled = Tensor::empty_like(g);
    kernels::lincomb(scaled, tab.a[i][i - 1], g, {});
    state_.copy_(y0);
    adam.step(state_, scaled);
    Batch b = opt_.fresh_batch_per_stage ? next_batch() : shared_;
    velocity(b, g);
    kernels::lincomb(g, -1.0, g, {});
    kernels::axpby(tab.b[i], g, 1.0, acc);
  }
  state_.copy_(y0);
  adam.step(state_, acc);
  stats.evaluations = tab.stages();
  stats.finite = std::isfinite(stats.loss_d) && std::isfinite(stats.loss_g) && kernels::all_finite(state_);
  return stats;
}

StepStats GanGame::step_optimizer(Adam& adam) {
  StepStats stats;
  shared_ = next_batch();
  Tensor g = Tensor::empty_like(state_);
  if (opt_.reg_lambda > 0) {
    if (!reg_.defined()) reg_ = Tensor::empty({n_theta_}, state_.dtype(), state_.device());
    regulariser_and_velocity(shared_, reg_, g, &stats);
  } else {
    velocity(shared_, g, &stats);
  }
  kernels::lincomb(g, -1.0, g, {});
  if (opt_.reg_lambda > 0) {
    Tensor gt = g.slice(0, n_theta_);
    kernels::axpby(opt_.reg_lambda, reg_, 1.0, gt);
  }
  adam.step(state_, g);
  stats.evaluations = 1;
  stats.h = adam.options().lr;
  stats.finite = std::isfinite(stats.loss_d) && std::isfinite(stats.loss_g) && kernels::all_finite(state_);
  return stats;
}

StepStats GanGame::step_alternating(Adam& adam_d, Adam& adam_g, int n_dis) {
  ODEGAN_CHECK(n_dis >= 1, "alternating updates need n_dis >= 1, got ", n_dis);
  StepStats stats;
  Tensor v = Tensor::empty_like(state_);
  Tensor th = theta(), ph = phi();
  Tensor gt = grads_.slice(0, n_theta_), gp = grads_.slice(n_theta_, grads_.numel());
  for (int i = 0; i < n_dis; ++i) {
    velocity_into(next_batch(), v, &stats, true, false);
    adam_d.step(th, gt);
  }
  velocity_into(next_batch(), v, &stats, false, true);
  adam_g.step(ph, gp);
  stats.evaluations = n_dis + 1;
  stats.h = adam_g.options().lr;
  stats.finite = std::isfinite(stats.loss_d) && std::isfinite(stats.loss_g) && kernels::all_finite(state_);
  return stats;
}

double GanGame::error_estimate(double h) {
  Tensor saved = state_.clone();
  Batch b = next_batch();
  RungeKutta rkf(fehlberg23());
  StepInfo info = rkf.step(state_, 0.0, h, [&](const Tensor&, double, Tensor& k) { velocity(b, k); });
  state_.copy_(saved);
  return info.error;
}

}  // namespace odegan::solvers
