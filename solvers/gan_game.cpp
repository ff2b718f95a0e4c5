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
  n_theta_params_ = players_.discriminator->parameters().size();
  const std::vector<Var> params = pair_->parameters();
  n_params_ = params.size();
  if (overlapping()) {
    std::vector<int64_t> sizes;
    for (const Var& p : params) sizes.push_back(p.numel());
    buckets_ = GradientBuckets(sizes, {n_theta_params_}, opt_.bucket_bytes, dtype_size(grads_.dtype()));
  }
}

void GanGame::set_state(const Tensor& y) {
  check_defined(y, "GanGame::set_state", "state");
  ODEGAN_CHECK(y.numel() == state_.numel(), "GanGame::set_state: the point has ", y.numel(), " values, the state ",
               state_.numel());
  if (y.data_ptr() == state_.data_ptr() && y.dtype() == state_.dtype() && y.device() == state_.device()) return;
  state_.copy_(y.reshape({state_.numel()}));
}

void GanGame::apply_regulariser(const Tensor& g_theta, double h) {
  Tensor th = theta();
  kernels::axpby(-h * opt_.reg_lambda, g_theta, 1.0, th);
}

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

void GanGame::velocity(const Batch& batch, Tensor& v, StepStats* stats, Part part) {
  const bool d_part = part != Part::generator, g_part = part != Part::discriminator;
  Var ld, lg;
  losses(batch, ld, lg);
  Tensor gt = grads_.slice(0, n_theta_), gp = grads_.slice(n_theta_, grads_.numel());
  Tensor vt = v.slice(0, n_theta_), vp = v.slice(n_theta_, v.numel());
  // The global loss gradients (their mean over ranks): all-reduced after both backward
  // passes, or bucket by bucket while they run.
  const bool overlap = overlapping();
  if (overlap) buckets_.begin(*opt_.comm, grads_, d_part ? 0 : n_theta_params_, g_part ? n_params_ : n_theta_params_);
  if (d_part) {
    gt.zero_();
    BackwardOptions o;
    o.inputs = players_.discriminator->parameters();
    o.retain_graph = g_part;
    if (overlap) o.on_input_ready = [this](size_t i) { buckets_.ready(i); };
    backward(ld, o);
  }
  if (g_part) {
    gp.zero_();
    BackwardOptions o;
    o.inputs = players_.generator->parameters();
    if (overlap) o.on_input_ready = [this](size_t i) { buckets_.ready(n_theta_params_ + i); };
    backward(lg, o);
  }
  if (overlap) {
    buckets_.finish();
  } else if (parallel()) {
    Tensor g = d_part && g_part ? grads_ : d_part ? gt : gp;
    opt_.comm->all_reduce_mean(g);
  }
  if (d_part) kernels::lincomb(vt, -1.0, gt, {});
  if (g_part) kernels::lincomb(vp, -1.0, gp, {});
  if (stats) {
    std::vector<double> s = read_scalars({ld.data(), lg.data(), kernels::sum_squares(gt), kernels::sum_squares(gp)});
    global_losses(s);
    stats->loss_d = s[0];
    stats->loss_g = s[1];
    if (d_part) stats->grad_norm_d = std::sqrt(s[2]);
    if (g_part) stats->grad_norm_g = std::sqrt(s[3]);
  }
}

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
  const bool overlap = overlapping();
  if (overlap) buckets_.begin(*opt_.comm, grads_, 0, n_theta_params_);
  BackwardOptions o;
  o.inputs = d_params;
  o.retain_graph = true;
  if (overlap) o.on_input_ready = [this](size_t i) { buckets_.ready(i); };
  backward(ld, o);
  if (!overlap) kernels::lincomb(vt, -1.0, gt, {});
  Tensor gt_sq = stats && !parallel() ? kernels::sum_squares(gt) : Tensor();
  copy_grads_into(g_phi, vp, -1.0);
  Var r;
  if (parallel()) {
    // The global velocity, then g_theta = (1/R) sum_r 2 (d a_r / d theta)^T a with the global
    // a = d l_G / d phi = -v_phi (see GameOptions::comm). Overlapped: d l_D / d theta's
    // buckets are on their way; v_phi joins them, and v_theta is the negated mean (the same
    // bits as the mean of the negated gradients: negation is exact).
    if (overlap) {
      opt_.comm->start_all_reduce_sum(vp);
      buckets_.finish();
      kernels::axpby(0.0, vp, 1.0 / opt_.comm->size(), vp);  // as all_reduce_mean
      kernels::lincomb(vt, -1.0, gt, {});
    } else {
      opt_.comm->all_reduce_mean(v);
    }
    if (stats) gt_sq = kernels::sum_squares(vt);
    int64_t at = 0;
    for (const Var& g : g_phi) {
      const Var a(vp.view(at, g.shape()));  // -a, a constant
      const Var term = sum(mul(g, a));
      r = r.defined() ? add(r, term) : term;
      at += g.numel();
    }
    r = mul(r, -2.0);
  } else {
    // R = ||d l_G / d phi||^2 and its gradient w.r.t. theta (a double backward).
    for (const Var& g : g_phi) r = r.defined() ? add(r, sum_squares(g)) : sum_squares(g);
  }
  gt.zero_();
  if (overlap) buckets_.begin(*opt_.comm, grads_, 0, n_theta_params_);
  BackwardOptions o2;
  o2.inputs = d_params;
  if (overlap) o2.on_input_ready = [this](size_t i) { buckets_.ready(i); };
  backward(r, o2);
  if (overlap) buckets_.finish();
  g_theta.copy_(gt);
  if (parallel() && !overlap) opt_.comm->all_reduce_mean(g_theta);
  if (stats) {
    const Tensor r_sq = parallel() ? kernels::sum_squares(vp) : r.data();  // ||a||^2 of the global a
    std::vector<double> s = read_scalars({ld.data(), lg.data(), gt_sq, r_sq, kernels::sum_squares(g_theta)});
    global_losses(s);
    stats->loss_d = s[0];
    stats->loss_g = s[1];
    stats->grad_norm_d = std::sqrt(s[2]);
    stats->grad_norm_g = std::sqrt(s[3]);
    stats->reg_norm = std::sqrt(s[4]);
  }
}

bool GanGame::parallel() const { return opt_.comm && opt_.comm->size() > 1; }

void GanGame::global_losses(std::vector<double>& s) const {
  if (!parallel()) return;
  Tensor l = Tensor::from_doubles({s[0], s[1]}, {2}, DType::f64);
  opt_.comm->all_reduce_mean(l);
  const std::vector<double> m = l.to_vector<double>();
  s[0] = m[0], s[1] = m[1];
}

std::function<void(const Tensor& u, Tensor& out)> GanGame::jacobian_transpose(const Batch& batch) {
  ODEGAN_CHECK(!parallel(), "the game's Jacobian is not available with data parallelism (run odegan_spectrum and "
                            "the Newton-Krylov solver on one process)");
  Var ld, lg;
  losses(batch, ld, lg);
  GradOptions keep;
  keep.create_graph = true;
  keep.allow_unused = true;
  std::vector<Var> params = players_.discriminator->parameters();
  const std::vector<Var> g_params = players_.generator->parameters();
  // v = -[d l_D / d theta; d l_G / d phi], recorded.
  std::vector<Var> grads = grad({ld}, params, {}, keep);
  const std::vector<Var> g_phi = grad({lg}, g_params, {}, keep);
  grads.insert(grads.end(), g_phi.begin(), g_phi.end());
  params.insert(params.end(), g_params.begin(), g_params.end());
  const int64_t n = state_.numel();
  // J^T u = d (v . u) / dy = d (g . (-u)) / dy. Gradients that are constant (no graph, or
  // unused) contribute nothing.
  return [grads, params, n](const Tensor& u, Tensor& out) {
    ODEGAN_CHECK(u.numel() == n && out.numel() == n, "jacobian_transpose: u and out need ", n, " values, got ",
                 u.numel(), " and ", out.numel());
    std::vector<Var> outputs;
    std::vector<Var> weights;
    int64_t at = 0;
    for (size_t i = 0; i < grads.size(); ++i) {
      const Var& g = grads[i];
      if (g.defined() && g.requires_grad()) {
        Tensor w = Tensor::empty(params[i].shape(), u.dtype(), u.device());
        kernels::lincomb(w, -1.0, u.reshape({n}).view(at, params[i].shape()), {});
        outputs.push_back(g);
        weights.push_back(Var(w));
      }
      at += params[i].numel();
    }
    out.zero_();
    if (outputs.empty()) return;
    GradOptions o;
    o.retain_graph = true;
    o.allow_unused = true;
    const std::vector<Var> jt = grad(outputs, params, weights, o);
    at = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      const int64_t k = params[i].numel();
      if (jt[i].defined()) {
        Tensor dst = out.reshape({n}).view(at, params[i].shape());
        dst.copy_(jt[i].data());
      }
      at += k;
    }
  };
}

std::function<void(const Tensor& w, Tensor& out)> GanGame::jacobian_product(const Batch& batch) {
  ODEGAN_CHECK(!parallel(), "the game's Jacobian is not available with data parallelism (run odegan_spectrum and "
                            "the Newton-Krylov solver on one process)");
  Var ld, lg;
  losses(batch, ld, lg);
  GradOptions keep;
  keep.create_graph = true;
  keep.allow_unused = true;
  std::vector<Var> params = players_.discriminator->parameters();
  const std::vector<Var> g_params = players_.generator->parameters();
  std::vector<Var> grads = grad({ld}, params, {}, keep);
  const std::vector<Var> g_phi = grad({lg}, g_params, {}, keep);
  grads.insert(grads.end(), g_phi.begin(), g_phi.end());
  params.insert(params.end(), g_params.begin(), g_params.end());
  // r(u) = J^T u = d (g . (-u)) / dy, recorded with u as an input (u = 0: r is linear).
  std::vector<Var> outputs, weights, us;
  for (size_t i = 0; i < grads.size(); ++i) {
    Var u(Tensor::zeros(params[i].shape(), state_.dtype(), state_.device()), true);
    us.push_back(u);
    if (grads[i].defined() && grads[i].requires_grad()) {
      outputs.push_back(grads[i]);
      weights.push_back(neg(u));
    }
  }
  std::vector<Var> r;
  if (!outputs.empty()) r = grad(outputs, params, weights, keep);
  std::vector<Var> r_out;
  std::vector<std::pair<int64_t, Shape>> where;  // each r_out's place in the state
  int64_t offset = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i].defined() && r[i].requires_grad()) r_out.push_back(r[i]), where.push_back({offset, params[i].shape()});
    offset += params[i].numel();
  }
  const int64_t n = state_.numel();
  return [r_out, where, us, n](const Tensor& w, Tensor& out) {
    ODEGAN_CHECK(w.numel() == n && out.numel() == n, "jacobian_product: w and out need ", n, " values, got ",
                 w.numel(), " and ", out.numel());
    out.zero_();
    if (r_out.empty()) return;
    // d <r(u), w> / du, with w cut to the parameters each r_out belongs to.
    std::vector<Var> ws;
    for (const auto& [at, shape] : where) ws.push_back(Var(w.reshape({n}).view(at, shape).clone()));
    GradOptions o;
    o.retain_graph = true;
    o.allow_unused = true;
    const std::vector<Var> jw = grad(r_out, us, ws, o);
    int64_t at = 0;
    for (size_t i = 0; i < us.size(); ++i) {
      if (jw[i].defined()) out.reshape({n}).view(at, us[i].shape()).copy_(jw[i].data());
      at += us[i].numel();
    }
  };
}

}  // namespace odegan::solvers
