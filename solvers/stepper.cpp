#include "solvers/stepper.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace odegan::solvers {

using kernels::lincomb;

namespace {

bool fits(const Tensor& t, const Tensor& like) {
  return t.defined() && t.numel() == like.numel() && t.dtype() == like.dtype() && t.device() == like.device();
}

void ensure_like(Tensor& t, const Tensor& like) {
  if (!fits(t, like)) t = Tensor::empty({like.numel()}, like.dtype(), like.device());
}

void check_finite_state(GanGame& game, StepStats& stats) {
  stats.finite = std::isfinite(stats.loss_d) && std::isfinite(stats.loss_g) && kernels::all_finite(game.state());
}

// sqrt(mean((d / (atol + rtol |ref|))^2)): the error norm of adaptive stepping, also the
// convergence test of the implicit methods.
double scaled_rms(const Tensor& d, const Tensor& ref, double atol, double rtol) {
  using kernels::Binary;
  using kernels::Unary;
  Tensor scale = kernels::unary(Unary::abs, ref);
  kernels::unary(Unary::affine, scale, scale, rtol, atol);
  Tensor ratio = kernels::binary(Binary::div, d, scale);
  return std::sqrt(kernels::sum_squares(ratio).item() / static_cast<double>(std::max<int64_t>(d.numel(), 1)));
}

double dot(const Tensor& a, const Tensor& b) {
  return kernels::reduce(kernels::Reduce::sum, kernels::binary(kernels::Binary::mul, a, b)).item();
}

// Solves (I - c J) x = b by GMRES from x = 0: at most m iterations (no restart), stopping
// at relative residual `tol`; `jprod(w, out)` gives J w. Returns the iterations taken.
int gmres(const std::function<void(const Tensor&, Tensor&)>& jprod, double c, const Tensor& b, Tensor& x, int m,
          double tol) {
  x.zero_();
  const double beta = std::sqrt(dot(b, b));
  if (!(beta > 0)) return 0;
  std::vector<Tensor> v;
  v.push_back(Tensor::empty_like(b));
  lincomb(v[0], 1.0 / beta, b, {});
  std::vector<std::vector<double>> hm(size_t(m) + 1, std::vector<double>(size_t(m), 0.0));
  std::vector<double> g(size_t(m) + 1, 0.0), cs(size_t(m), 0.0), sn(size_t(m), 0.0);
  g[0] = beta;
  Tensor w = Tensor::empty_like(b);
  int k = 0;
  for (; k < m; ++k) {
    jprod(v[size_t(k)], w);
    lincomb(w, -c, w, {{1.0, v[size_t(k)]}});  // (I - c J) v_k
    for (int i = 0; i <= k; ++i) {              // modified Gram-Schmidt
      hm[size_t(i)][size_t(k)] = dot(w, v[size_t(i)]);
      lincomb(w, 1.0, w, {{-hm[size_t(i)][size_t(k)], v[size_t(i)]}});
    }
    const double hn = std::sqrt(dot(w, w));
    hm[size_t(k) + 1][size_t(k)] = hn;
    for (int i = 0; i < k; ++i) {  // earlier rotations on the new column
      const double a = hm[size_t(i)][size_t(k)], bb = hm[size_t(i) + 1][size_t(k)];
      hm[size_t(i)][size_t(k)] = cs[size_t(i)] * a + sn[size_t(i)] * bb;
      hm[size_t(i) + 1][size_t(k)] = -sn[size_t(i)] * a + cs[size_t(i)] * bb;
    }
    const double a = hm[size_t(k)][size_t(k)], r = std::hypot(a, hn);
    cs[size_t(k)] = r > 0 ? a / r : 1.0, sn[size_t(k)] = r > 0 ? hn / r : 0.0;
    hm[size_t(k)][size_t(k)] = r, hm[size_t(k) + 1][size_t(k)] = 0.0;
    g[size_t(k) + 1] = -sn[size_t(k)] * g[size_t(k)];
    g[size_t(k)] = cs[size_t(k)] * g[size_t(k)];
    const bool done = std::fabs(g[size_t(k) + 1]) <= tol * beta || !(hn > 1e-300);
    if (!done && k + 1 < m) {
      v.push_back(Tensor::empty_like(b));
      lincomb(v.back(), 1.0 / hn, w, {});
    }
    if (done) {
      ++k;
      break;
    }
  }
  k = std::min(k, m);
  // Back substitution: R y = g, x = V y.
  std::vector<double> y(size_t(k), 0.0);
  for (int i = k - 1; i >= 0; --i) {
    double t = g[size_t(i)];
    for (int j = i + 1; j < k; ++j) t -= hm[size_t(i)][size_t(j)] * y[size_t(j)];
    y[size_t(i)] = hm[size_t(i)][size_t(i)] != 0 ? t / hm[size_t(i)][size_t(i)] : 0.0;
  }
  std::vector<std::pair<double, Tensor>> terms;
  for (int i = 0; i < k; ++i) terms.push_back({y[size_t(i)], v[size_t(i)]});
  lincomb(x, 0.0, x, terms);
  return k;
}

// Checkpoint-state helpers: a number that must be a whole count in [lo, hi], a positive
// finite number, and a tensor of the state's size, each named in the error.
int64_t count_from(const StepperState& s, const std::string& key, int64_t lo, int64_t hi, const std::string& source) {
  auto it = s.numbers.find(key);
  if (it == s.numbers.end()) return 0;
  const double x = it->second;
  ODEGAN_CHECK(std::isfinite(x) && x == std::floor(x) && x >= double(lo) && x <= double(hi), source, ": key '", key,
               "' must be a whole number in [", lo, ", ", hi, "], got ", x);
  return static_cast<int64_t>(x);
}

double positive_from(const StepperState& s, const std::string& key, const std::string& source) {
  auto it = s.numbers.find(key);
  ODEGAN_CHECK(it != s.numbers.end(), source, ": key '", key, "' is missing (or not a number)");
  ODEGAN_CHECK(std::isfinite(it->second) && it->second > 0, source, ": key '", key, "' must be finite and > 0, got ",
               it->second);
  return it->second;
}

// A tensor of `numel` values (the state's, or one player's), on the state's device.
Tensor sized(const StepperState& s, const std::string& key, int64_t numel, const GanGame& game,
             const std::string& source, const char* what) {
  auto it = s.tensors.find(key);
  ODEGAN_CHECK(it != s.tensors.end(), source, ": tensor '", key, "' is missing");
  const Tensor& state = game.state();
  ODEGAN_CHECK(it->second.numel() == numel, source, ": '", key, "' has ", it->second.numel(), " values, this model has ",
               numel, " ", what, " (was it written with other model flags?)");
  return it->second.reshape({numel}).to(state.device()).to(state.dtype());
}

Tensor state_sized(const StepperState& s, const std::string& key, const GanGame& game, const std::string& source) {
  return sized(s, key, game.state().numel(), game, source, "parameters");
}

constexpr int64_t kMaxCount = int64_t(1) << 50;

// Adam's moments and step count under `prefix` ("adam" -> adam.m, adam.v, adam_steps).
void save_adam(StepperState& s, const Adam& adam, const std::string& prefix) {
  auto st = adam.state();
  if (!st.empty()) s.tensors[prefix + ".m"] = st.at("m"), s.tensors[prefix + ".v"] = st.at("v");
  s.numbers[prefix + "_steps"] = static_cast<double>(adam.steps());
}

// `numel`: the parameters this Adam moves (the whole state, or one player's).
void load_adam(const StepperState& s, Adam& adam, const std::string& prefix, int64_t numel, const GanGame& game,
               const std::string& source) {
  const int64_t steps = count_from(s, prefix + "_steps", 0, kMaxCount, source);
  if (!s.tensors.count(prefix + ".m")) return;
  const char* what = prefix == "adam_d" ? "discriminator parameters" : prefix == "adam_g" ? "generator parameters"
                                                                                           : "parameters";
  adam.load_state({{"m", sized(s, prefix + ".m", numel, game, source, what)},
                   {"v", sized(s, prefix + ".v", numel, game, source, what)}},
                  steps);
}

// ---------------------------------------------------------------- Algorithm 1 steppers

// The shape every ODE stepper shares: at the step's start a batch, the regulariser g_theta
// and the first velocity v0 from one forward pass; then the method's integration; then
// theta -= h lambda g_theta with the h actually taken.
class OdeStepper : public Stepper {
 public:
  StepStats step(GanGame& game, double h) final {
    StepStats stats;
    begin(game, stats);
    stats.h = h;
    integrate(game, h, stats);
    if (game.options().reg_lambda > 0) game.apply_regulariser(reg_, stats.h);
    check_finite_state(game, stats);
    return stats;
  }

 protected:
  explicit OdeStepper(std::string name) : Stepper(std::move(name)) {}
  // Moves the state by one step from y0 (v0_ holds v(y0)); sets stats.h when the step
  // taken differs from h, and evaluations, error, iterations.
  virtual void integrate(GanGame& game, double h, StepStats& stats) = 0;

  // The velocity at a stage point y (the state is moved to y first when y is not the
  // state itself), on a fresh batch per call when the game asks for that, else on the
  // step's batch.
  Velocity stage_field(GanGame& game) {
    return [this, &game](const Tensor& y, double, Tensor& k) {
      game.set_state(y);
      eval(game, game.options().fresh_batch_per_stage ? game.next_batch() : shared_, k);
    };
  }
  // The same on one given batch for every call (an implicit method's equation).
  Velocity fixed_field(GanGame& game, const Batch& b) {
    return [this, &game, b](const Tensor& y, double, Tensor& k) {
      game.set_state(y);
      eval(game, b, k);
    };
  }
  // The batch for the step's later evaluations taken together (one per step).
  Batch stage_batch(GanGame& game) { return game.options().fresh_batch_per_stage ? game.next_batch() : shared_; }

  size_t buffer_bytes() const {
    size_t n = 0;
    for (const Tensor* t : {&v0_, &reg_, &start_})
      if (t->defined()) n += t->nbytes();
    return n;
  }

  Batch shared_;
  Tensor v0_, reg_;

 private:
  void begin(GanGame& game, StepStats& stats) {
    shared_ = game.next_batch();
    ensure_like(v0_, game.state());
    if (game.options().reg_lambda > 0) {
      if (!reg_.defined() || reg_.numel() != game.num_theta())
        reg_ = Tensor::empty({game.num_theta()}, game.state().dtype(), game.state().device());
      game.regulariser_and_velocity(shared_, reg_, v0_, &stats);
    } else {
      game.velocity(shared_, v0_, &stats);
    }
    if (game.options().per_player) start_ = game.state().clone();
  }

  // v at the current state; per-player games move each player against the other frozen
  // at the step's start (the reference MoG notebook).
  void eval(GanGame& game, const Batch& b, Tensor& k) {
    if (!game.options().per_player) {
      game.velocity(b, k);
      return;
    }
    const int64_t nt = game.num_theta();
    Tensor th = game.theta(), ph = game.phi();
    Tensor th_stage = th.clone(), ph_stage = ph.clone();
    ph.copy_(start_.slice(nt, start_.numel()));
    game.velocity(b, k, nullptr, GanGame::Part::discriminator);
    ph.copy_(ph_stage);
    th.copy_(start_.slice(0, nt));
    game.velocity(b, k, nullptr, GanGame::Part::generator);
    th.copy_(th_stage);
  }

  Tensor start_;  // per-player: the step's start point
};

// An explicit Runge-Kutta tableau with a fixed step.
class RkStepper final : public OdeStepper {
 public:
  RkStepper(std::string name, ButcherTableau tab) : OdeStepper(std::move(name)), rk_(std::move(tab)) {}
  bool reports_error() const override { return rk_.tableau().embedded(); }
  size_t workspace_bytes() const override { return rk_.workspace_bytes() + buffer_bytes(); }

 protected:
  void integrate(GanGame& game, double h, StepStats& stats) override {
    StepInfo info = rk_.step(game.state(), 0.0, h, stage_field(game), &v0_);
    stats.evaluations = info.evaluations;
    stats.error = info.error;
  }

 private:
  RungeKutta rk_;
};

// Error-controlled step sizes from an embedded pair; h of the first step is the first
// proposal, later steps take the controller's proposal.
class AdaptiveStepper final : public OdeStepper {
 public:
  AdaptiveStepper(std::string name, ButcherTableau tab, AdaptiveOptions o)
      : OdeStepper(std::move(name)), tab_(std::move(tab)), opt_(o) {
    ODEGAN_CHECK(tab_.embedded(), "adaptive stepping needs an embedded method; '", tab_.name,
                 "' has none (use fehlberg, bs32 or dopri5)");
  }
  bool reports_error() const override { return true; }
  StepperState state() const override {
    StepperState s;
    if (rk_) s.numbers["h_proposal"] = rk_->proposal();
    return s;
  }
  void load_state(const StepperState& s, const GanGame&, const std::string& source) override {
    if (s.numbers.count("h_proposal")) rk_ = std::make_unique<AdaptiveRungeKutta>(tab_, positive_from(s, "h_proposal", source), opt_);
  }

 protected:
  void integrate(GanGame& game, double h, StepStats& stats) override {
    if (!rk_) rk_ = std::make_unique<AdaptiveRungeKutta>(tab_, h, opt_);
    StepInfo info = rk_->step(game.state(), 0.0, stage_field(game), INFINITY, &v0_);
    stats.evaluations = info.evaluations;
    stats.error = info.error;
    stats.h = info.h;
    stats.rejected = info.rejected;
  }

 private:
  ButcherTableau tab_;
  AdaptiveOptions opt_;
  std::unique_ptr<AdaptiveRungeKutta> rk_;
};

// Adams-Bashforth of order k: one velocity per step (the start's, which the regulariser's
// forward pass computes anyway), combined with the k - 1 previous ones. The first k - 1
// steps, where the history is short, are Heun steps (order 2, so the start-up does not
// lower the global order of AB2 or AB3); step-size changes are exact (variable-step
// weights). The history is part of the checkpoint.
class AdamsBashforthStepper final : public OdeStepper {
 public:
  AdamsBashforthStepper(std::string name, int order) : OdeStepper(std::move(name)), k_(order - 1), heun_(heun()) {}
  StepperState state() const override {
    StepperState s;
    s.numbers["ab_count"] = static_cast<double>(past_h_.size());
    for (size_t j = 0; j < past_h_.size(); ++j) {
      s.tensors["ab.f" + std::to_string(j + 1)] = hist_[j];
      s.numbers["ab_h" + std::to_string(j + 1)] = past_h_[j];
    }
    return s;
  }
  void load_state(const StepperState& s, const GanGame& game, const std::string& source) override {
    const int64_t n = count_from(s, "ab_count", 0, k_, source);
    past_h_.clear();
    hist_.assign(static_cast<size_t>(k_), Tensor());
    for (int64_t j = 0; j < n; ++j) {
      hist_[size_t(j)] = state_sized(s, "ab.f" + std::to_string(j + 1), game, source).clone();
      past_h_.push_back(positive_from(s, "ab_h" + std::to_string(j + 1), source));
    }
  }

 protected:
  void integrate(GanGame& game, double h, StepStats& stats) override {
    Tensor& y = game.state();
    if (static_cast<int>(past_h_.size()) < k_) {
      stats.evaluations = heun_.step(y, 0.0, h, stage_field(game), &v0_).evaluations;
    } else {
      const std::vector<double> w = adams_bashforth_weights(h, past_h_);
      std::vector<std::pair<double, Tensor>> terms = {{h * w[0], v0_}};
      for (int j = 0; j < k_; ++j) terms.push_back({h * w[size_t(j) + 1], hist_[size_t(j)]});
      Tensor flat = y.reshape({y.numel()});
      lincomb(flat, 1.0, flat, terms);
      stats.evaluations = 1;
    }
    // The current velocity becomes the newest history entry.
    hist_.resize(static_cast<size_t>(k_));
    std::rotate(hist_.rbegin(), hist_.rbegin() + 1, hist_.rend());
    ensure_like(hist_[0], v0_);
    hist_[0].copy_(v0_);
    past_h_.insert(past_h_.begin(), h);
    if (static_cast<int>(past_h_.size()) > k_) past_h_.resize(static_cast<size_t>(k_));
  }

 private:
  int k_;                       // history length (order - 1)
  RungeKutta heun_;             // start-up
  std::vector<Tensor> hist_;    // hist_[j]: the velocity j + 1 steps back
  std::vector<double> past_h_;  // past_h_[j]: the step that ended j steps back
};

// Implicit midpoint  y1 = y0 + h v((y0 + y1) / 2)  and the trapezoidal rule
// y1 = y0 + h/2 (v(y0) + v(y1)), both A-stable and of order 2, solved by fixed-point
// iteration from an Euler predictor on one batch (the equation must not change between
// iterations).
class ImplicitStepper final : public OdeStepper {
 public:
  ImplicitStepper(std::string name, bool midpoint, ImplicitOptions o)
      : OdeStepper(std::move(name)), midpoint_(midpoint), opt_(o) {
    ODEGAN_CHECK(o.max_iterations >= 1, "implicit methods need at least 1 iteration, got ", o.max_iterations);
    ODEGAN_CHECK(o.rtol >= 0 && o.atol >= 0 && o.rtol + o.atol > 0, "implicit methods: need rtol, atol >= 0, not both 0");
    ODEGAN_CHECK(o.solver == "fixed_point" || o.solver == "newton", "implicit methods: solver must be fixed_point or newton, got '",
                 o.solver, "'");
    ODEGAN_CHECK(o.krylov >= 1 && o.krylov_rtol > 0, "implicit methods: need krylov >= 1 and krylov_rtol > 0");
  }
  bool reports_iterations() const override { return true; }

 protected:
  void integrate(GanGame& game, double h, StepStats& stats) override {
    Tensor& y = game.state();
    const Tensor flat = y.reshape({y.numel()});
    ensure_like(y0_, flat), ensure_like(y1_, flat), ensure_like(z_, flat), ensure_like(k_, flat);
    ensure_like(next_, flat);
    y0_.copy_(flat);
    lincomb(y1_, 1.0, y0_, {{h, v0_}});  // predictor
    if (opt_.solver == "newton") return newton(game, h, stats);
    Velocity f = fixed_field(game, stage_batch(game));
    int it = 0;
    double change = INFINITY;
    while (it < opt_.max_iterations) {
      ++it;
      if (midpoint_) {
        lincomb(z_, 0.5, y0_, {{0.5, y1_}});
        f(z_, 0.5 * h, k_);
        lincomb(next_, 1.0, y0_, {{h, k_}});
      } else {
        f(y1_, h, k_);
        lincomb(next_, 1.0, y0_, {{0.5 * h, v0_}, {0.5 * h, k_}});
      }
      lincomb(z_, 1.0, next_, {{-1.0, y1_}});
      change = scaled_rms(z_, next_, opt_.atol, opt_.rtol);
      std::swap(y1_, next_);
      if (!(change > 1.0)) break;  // converged (a NaN ends the loop too; the step is then not finite)
    }
    game.set_state(y1_);
    stats.iterations = it;
    stats.converged = change <= 1.0;
    stats.evaluations = 1 + it;
  }

 private:
  // Newton: G(y1) = y1 - y0 - h v((y0 + y1) / 2)  (midpoint)  or  y1 - y0 - h/2 (v0 + v(y1)),
  // G' = I - h/2 J(p) at the evaluation point p; each iteration costs one velocity, one
  // recording of the linearisation and the GMRES products, all counted in evaluations.
  void newton(GanGame& game, double h, StepStats& stats) {
    ODEGAN_CHECK(!game.options().per_player, name(), " with the newton solver: per-player games are not supported");
    const Batch b = stage_batch(game);
    ensure_like(next_, y1_);
    int it = 0, evaluations = 1;
    double change = INFINITY;
    while (it < opt_.max_iterations) {
      ++it;
      if (midpoint_)
        lincomb(z_, 0.5, y0_, {{0.5, y1_}});
      else
        z_.copy_(y1_);
      game.set_state(z_);
      game.velocity(b, k_);
      // residual G into next_
      if (midpoint_)
        lincomb(next_, 1.0, y1_, {{-1.0, y0_}, {-h, k_}});
      else
        lincomb(next_, 1.0, y1_, {{-1.0, y0_}, {-0.5 * h, v0_}, {-0.5 * h, k_}});
      lincomb(next_, -1.0, next_, {});  // -G
      auto jp = game.jacobian_product(b);
      const int products = gmres(jp, 0.5 * h, next_, z_, opt_.krylov, opt_.krylov_rtol);
      evaluations += 2 + products;  // the velocity, the recording, the products
      lincomb(y1_, 1.0, y1_, {{1.0, z_}});
      change = scaled_rms(z_, y1_, opt_.atol, opt_.rtol);
      if (!(change > 1.0)) break;
    }
    game.set_state(y1_);
    stats.iterations = it;
    stats.converged = change <= 1.0;
    stats.evaluations = evaluations;
  }

  bool midpoint_;
  ImplicitOptions opt_;
  Tensor y0_, y1_, z_, k_, next_;
};

// Symplectic Euler: the players move in turn, D first, then G against the new D:
//   theta1 = theta0 + h v_theta(theta0, phi0);  phi1 = phi0 + h v_phi(theta1, phi0)
// which is alternating gradient descent with one D step per G step.
class SymplecticEulerStepper final : public OdeStepper {
 public:
  explicit SymplecticEulerStepper(std::string name) : OdeStepper(std::move(name)) {}

 protected:
  void integrate(GanGame& game, double h, StepStats& stats) override {
    ODEGAN_CHECK(!game.options().per_player,
                 "symplectic_euler already moves the players in turn; --per-player does not apply to it");
    const int64_t nt = game.num_theta(), n = game.state().numel();
    Tensor th = game.theta();
    lincomb(th, 1.0, th, {{h, v0_.slice(0, nt)}});
    ensure_like(k_, game.state());
    game.velocity(stage_batch(game), k_, nullptr, GanGame::Part::generator);
    Tensor ph = game.phi();
    lincomb(ph, 1.0, ph, {{h, k_.slice(nt, n)}});
    stats.evaluations = 2;
  }

 private:
  Tensor k_;
};

// ---------------------------------------------------------------- optimiser steppers

// The reference CIFAR code's "RK + Adam": each stage point is y0 moved by one Adam update
// of the scaled gradient (Adam's moments advance at every stage), the final update is
// Adam on sum_i b_i g_i from y0, and the regulariser enters the first gradient with
// weight lambda / b_1 (so that it contributes lambda * g_theta to the final combination).
class RkAdamStepper final : public Stepper {
 public:
  RkAdamStepper(std::string name, ButcherTableau tab, AdamOptions o) : Stepper(std::move(name)), tab_(std::move(tab)), adam_(o) {
    ODEGAN_CHECK(tab_.sequential(), "RK + Adam needs a sequential method (euler, rk2, midpoint, rk4, extragradient), not ",
                 tab_.name);
  }
  StepperState state() const override {
    StepperState s;
    save_adam(s, adam_, "adam");
    return s;
  }
  void load_state(const StepperState& s, const GanGame& game, const std::string& source) override {
    load_adam(s, adam_, "adam", game.state().numel(), game, source);
  }

  StepStats step(GanGame& game, double h) override {
    StepStats stats;
    stats.h = h;
    adam_.set_lr(h);
    Tensor& state = game.state();
    const int64_t nt = game.num_theta();
    const Batch shared = game.next_batch();
    Tensor g = Tensor::empty_like(state);
    const double lambda = game.options().reg_lambda;
    if (lambda > 0) {
      if (!reg_.defined() || reg_.numel() != nt) reg_ = Tensor::empty({nt}, state.dtype(), state.device());
      game.regulariser_and_velocity(shared, reg_, g, &stats);
    } else {
      game.velocity(shared, g, &stats);
    }
    lincomb(g, -1.0, g, {});  // gradients, not velocities
    if (lambda > 0) {
      Tensor gt = g.slice(0, nt);
      kernels::axpby(lambda / tab_.b[0], reg_, 1.0, gt);
    }
    Tensor y0 = state.clone();
    Tensor acc = Tensor::zeros_like(state);
    kernels::axpby(tab_.b[0], g, 1.0, acc);
    for (int i = 1; i < tab_.stages(); ++i) {
      Tensor scaled = Tensor::empty_like(g);
      lincomb(scaled, tab_.a[i][i - 1], g, {});
      state.copy_(y0);
      adam_.step(state, scaled);
      Batch b = game.options().fresh_batch_per_stage ? game.next_batch() : shared;
      game.velocity(b, g);
      lincomb(g, -1.0, g, {});
      kernels::axpby(tab_.b[i], g, 1.0, acc);
    }
    state.copy_(y0);
    adam_.step(state, acc);
    stats.evaluations = tab_.stages();
    check_finite_state(game, stats);
    return stats;
  }

 private:
  ButcherTableau tab_;
  Adam adam_;
  Tensor reg_;
};

// Simultaneous Adam on both players (a baseline; lambda g_theta is added to D's gradient).
class AdamStepper final : public Stepper {
 public:
  AdamStepper(std::string name, AdamOptions o) : Stepper(std::move(name)), adam_(o) {}
  StepperState state() const override {
    StepperState s;
    save_adam(s, adam_, "adam");
    return s;
  }
  void load_state(const StepperState& s, const GanGame& game, const std::string& source) override {
    load_adam(s, adam_, "adam", game.state().numel(), game, source);
  }

  StepStats step(GanGame& game, double) override {
    StepStats stats;
    Tensor& state = game.state();
    const int64_t nt = game.num_theta();
    const Batch shared = game.next_batch();
    Tensor g = Tensor::empty_like(state);
    const double lambda = game.options().reg_lambda;
    if (lambda > 0) {
      if (!reg_.defined() || reg_.numel() != nt) reg_ = Tensor::empty({nt}, state.dtype(), state.device());
      game.regulariser_and_velocity(shared, reg_, g, &stats);
    } else {
      game.velocity(shared, g, &stats);
    }
    lincomb(g, -1.0, g, {});
    if (lambda > 0) {
      Tensor gt = g.slice(0, nt);
      kernels::axpby(lambda, reg_, 1.0, gt);
    }
    adam_.step(state, g);
    stats.evaluations = 1;
    stats.h = adam_.options().lr;
    check_finite_state(game, stats);
    return stats;
  }

 private:
  Adam adam_;
  Tensor reg_;
};

// The SN-GAN baseline's alternating updates: n_dis Adam steps of D (a fresh batch each),
// then one Adam step of G. No regulariser.
class AlternatingAdamStepper final : public Stepper {
 public:
  AlternatingAdamStepper(std::string name, AdamOptions o, int n_dis)
      : Stepper(std::move(name)), adam_d_(o), adam_g_(o), n_dis_(n_dis) {
    ODEGAN_CHECK(n_dis >= 1, "alternating updates need n_dis >= 1, got ", n_dis);
  }
  bool uses_regulariser() const override { return false; }
  StepperState state() const override {
    StepperState s;
    save_adam(s, adam_d_, "adam_d");
    save_adam(s, adam_g_, "adam_g");
    return s;
  }
  void load_state(const StepperState& s, const GanGame& game, const std::string& source) override {
    // Each player's Adam covers that player's parameters only.
    load_adam(s, adam_d_, "adam_d", game.num_theta(), game, source);
    load_adam(s, adam_g_, "adam_g", game.num_phi(), game, source);
  }

  StepStats step(GanGame& game, double) override {
    StepStats stats;
    Tensor v = Tensor::empty_like(game.state());
    Tensor th = game.theta(), ph = game.phi();
    const Tensor& grads = game.loss_gradients();
    Tensor gt = grads.slice(0, game.num_theta()), gp = grads.slice(game.num_theta(), grads.numel());
    for (int i = 0; i < n_dis_; ++i) {
      game.velocity(game.next_batch(), v, &stats, GanGame::Part::discriminator);
      adam_d_.step(th, gt);
    }
    game.velocity(game.next_batch(), v, &stats, GanGame::Part::generator);
    adam_g_.step(ph, gp);
    stats.evaluations = n_dis_ + 1;
    stats.h = adam_g_.options().lr;
    check_finite_state(game, stats);
    return stats;
  }

 private:
  Adam adam_d_, adam_g_;
  int n_dis_;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every name tableau_by_name accepts.
std::vector<std::string> tableau_names_and_aliases() {
  std::vector<std::string> n = tableau_names();
  n.push_back("rkf23");
  return n;
}

}  // namespace

// ---------------------------------------------------------------- registry

std::unique_ptr<Stepper> make_stepper(const std::string& name, const StepperOptions& o) {
  const std::vector<std::string> all = stepper_names();
  ODEGAN_CHECK(std::find(all.begin(), all.end(), name) != all.end(), "unknown method '", name, "': expected ",
               stepper_help());
  if (name == "adam") return std::make_unique<AdamStepper>(name, o.adam);
  if (name == "sngan") return std::make_unique<AlternatingAdamStepper>(name, o.adam, o.n_dis);
  if (name == "ab2" || name == "ab3") return std::make_unique<AdamsBashforthStepper>(name, name == "ab2" ? 2 : 3);
  if (name == "implicit_midpoint" || name == "trapezoid")
    return std::make_unique<ImplicitStepper>(name, name == "implicit_midpoint", o.implicit);
  if (name == "symplectic_euler") return std::make_unique<SymplecticEulerStepper>(name);
  if (name.rfind("adaptive_", 0) == 0)
    return std::make_unique<AdaptiveStepper>(name, tableau_by_name(name.substr(9)), o.adaptive);
  if (ends_with(name, "_adam"))
    return std::make_unique<RkAdamStepper>(name, tableau_by_name(name.substr(0, name.size() - 5)), o.adam);
  return std::make_unique<RkStepper>(name, name == "gd" ? euler() : tableau_by_name(name));
}

namespace {

// The registry's names by family, in --help's order: the one list stepper_names() and
// stepper_help() both read.
std::vector<std::pair<std::string, std::vector<std::string>>> families() {
  std::vector<std::string> rk = tableau_names_and_aliases(), adaptive, rk_adam;
  rk.push_back("gd");
  for (const std::string& t : tableau_names_and_aliases()) {
    const ButcherTableau tab = tableau_by_name(t);
    if (tab.embedded()) adaptive.push_back("adaptive_" + t);
    if (tab.sequential()) rk_adam.push_back(t + "_adam");
  }
  return {{"explicit RK", rk},
          {"adaptive", adaptive},
          {"multistep", {"ab2", "ab3"}},
          {"implicit", {"implicit_midpoint", "trapezoid"}},
          {"players in turn", {"symplectic_euler"}},
          {"RK + Adam", rk_adam},
          {"optimisers", {"adam", "sngan"}}};
}

}  // namespace

std::vector<std::string> stepper_names() {
  std::vector<std::string> n;
  for (const auto& [family, names] : families()) n.insert(n.end(), names.begin(), names.end());
  return n;
}

std::string stepper_help() {
  std::string h;
  for (const auto& [family, names] : families()) {
    h += (h.empty() ? "" : "; ") + family + ":";
    for (size_t i = 0; i < names.size(); ++i) h += (i ? ", " : " ") + names[i];
  }
  return h;
}

double local_error_estimate(GanGame& game, double h) {
  Tensor saved = game.state().clone();
  Batch b = game.next_batch();
  RungeKutta rkf(fehlberg23());
  StepInfo info = rkf.step(game.state(), 0.0, h, [&](const Tensor& y, double, Tensor& k) {
    game.set_state(y);
    game.velocity(b, k);
  });
  game.state().copy_(saved);
  return info.error;
}

// Integrates the Lagrange basis of the nodes 0, -past[0], -past[0]-past[1], ... over
// [0, h] with Gauss-Legendre (exact for these degrees).
std::vector<double> adams_bashforth_weights(double h, const std::vector<double>& past_steps) {
  ODEGAN_CHECK(h > 0, "Adams-Bashforth: step must be positive, got ", h);
  std::vector<double> nodes = {0.0};
  for (double p : past_steps) {
    ODEGAN_CHECK(p > 0 && std::isfinite(p), "Adams-Bashforth: past step sizes must be positive, got ", p);
    nodes.push_back(nodes.back() - p);
  }
  static const double gx[3] = {-0.7745966692414834, 0.0, 0.7745966692414834};
  static const double gw[3] = {5.0 / 9, 8.0 / 9, 5.0 / 9};
  ODEGAN_CHECK(nodes.size() <= 5, "Adams-Bashforth: at most order 5 (3-point Gauss-Legendre), got ", nodes.size());
  std::vector<double> w(nodes.size(), 0.0);
  for (size_t j = 0; j < nodes.size(); ++j)
    for (int q = 0; q < 3; ++q) {
      const double s = 0.5 * h * (gx[q] + 1.0);
      double l = 1.0;
      for (size_t m = 0; m < nodes.size(); ++m)
        if (m != j) l *= (s - nodes[m]) / (nodes[j] - nodes[m]);
      w[j] += 0.5 * gw[q] * l;  // (1/h) * (h/2) * weight
    }
  return w;
}

}  // namespace odegan::solvers
