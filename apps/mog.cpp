// odegan_mog: the paper's mixture-of-Gaussians experiment (Fig. 2), the default demo.
// Trains the MoG MLPs by integrating the GAN's gradient dynamics (RK4 + the gradient
// regulariser by default), and writes metrics (CSV/JSON), figures (PNG) and checkpoints.
//   odegan_mog --out runs/mog                       # RK4, h = 0.1, lambda = 0.07, 30k steps
//   odegan_mog --method euler --steps 18000 --h 0.03
//   odegan_mog --compare euler,rk4 --out runs/cmp   # side by side (paper Fig. 2)
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <sstream>

#include "apps/common/flags.h"
#include "apps/common/mog_figures.h"
#include "apps/common/progress.h"
#include "apps/common/run.h"
#include "apps/common/tensorboard.h"
#include "apps/common/training.h"
#include "autodiff/var.h"
#include "core/comm.h"
#include "core/rng.h"
#include "data/mog.h"
#include "layers/models/mog.h"
#include "solvers/gan_game.h"
#include "solvers/stepper.h"

using namespace odegan;
using app::json;

namespace {

struct Config {
  std::string out = "runs/mog";
  std::string device = "auto";
  std::string method = "rk4";
  std::string compare;
  int64_t steps = 30000;
  double h = 0.1;
  double lambda = 0.07;
  int64_t batch = 512;
  int64_t latent = 32;
  int64_t hidden = 25;
  uint64_t seed = 1;  // see docs/reproducing.md for the outcome over seeds 0-5
  std::string loss = "non_saturating";
  bool per_player = false;
  bool fresh_batches = false;
  std::string dtype = "float32";
  int64_t eval_every = 1000;
  int64_t eval_samples = 2500;
  int64_t checkpoint_every = 5000;
  int64_t error_every = 0;
  double adam_lr = 1e-3;
  int n_dis = 5;
  double rtol = 1e-3, atol = 1e-6;
  int max_iterations = 20;
  std::string implicit_solver = "fixed_point";
  int krylov = 10;
  bool resume = false;
  std::string figure_steps;
  double bucket_mb = 0;  // several ranks: overlapped all-reduce buckets
};
// The fields config.json holds, listed once (not compare, resume, bucket_mb: flags of one start).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Config, out, device, method, steps, h, lambda, batch, latent, hidden, seed,
                                                loss, per_player, fresh_batches, dtype, eval_every, eval_samples,
                                                checkpoint_every, error_every, adam_lr, n_dis, rtol, atol, max_iterations,
                                                implicit_solver, krylov, figure_steps)

const std::vector<std::string> kColumns = {"step",      "loss_d",   "loss_g",   "grad_norm_d", "grad_norm_g",
                                           "reg_norm",  "h",        "error",    "ms",          "modes_covered",
                                           "hq_fraction"};

std::vector<int64_t> figure_points(const Config& c) {
  std::vector<int64_t> pts;
  if (!c.figure_steps.empty()) {
    pts = app::flags::parse_integers(c.figure_steps, "--figure-steps", 0, app::flags::kMaxSteps);
  } else {
    pts = {0, c.steps / 3, 2 * c.steps / 3, c.steps};
  }
  for (int64_t p : pts)
    ODEGAN_CHECK(p >= 0 && p <= c.steps, "--figure-steps: ", p, " is outside [0, ", c.steps, "]");
  return pts;
}

// Trains one method into `dir`; returns the final summary (also written as metrics.json).
// With several ranks (mpirun), every rank trains on its shard of each global batch and only
// rank 0 writes (logs, figures, checkpoints) and prints.
json run_one(const Config& c, const std::string& dir) {
  const std::shared_ptr<Communicator> comm = Communicator::from_environment();
  const bool root = comm->is_root();
  const int ranks = comm->size();
  ODEGAN_CHECK(c.batch % ranks == 0, "--batch ", c.batch, " does not split into ", ranks, " equal shards (one per rank)");
  if (root) {
    app::prepare_dir(dir);
    for (const char* sub : {"", "/checkpoints", "/snapshots"}) app::remove_stale_temp_files(dir + sub);
  }
  Device dev = Device::parse(c.device);
  // Several ranks on a node: each takes the GPU of its local rank unless one is named.
  if (ranks > 1 && dev.is_cuda() && c.device.find(':') == std::string::npos) dev.index = comm->local_rank();
  const DType dtype = c.dtype == "float64" ? DType::f64 : DType::f32;
  ODEGAN_CHECK(c.dtype == "float32" || c.dtype == "float64", "--dtype must be float32 or float64, got '", c.dtype, "'");
  ODEGAN_CHECK(c.steps >= 0 && c.batch > 0 && c.latent > 0 && c.h > 0 && c.lambda >= 0,
               "need steps >= 0, batch > 0, latent > 0, h > 0 and lambda >= 0");

  // Players, initialised as the reference (truncated normal, std 1/sqrt(fan_in), zero bias).
  Generator init(c.seed);
  auto g = nn::models::mog_generator(c.latent, c.hidden, 2, dtype);
  auto d = nn::models::mog_discriminator(c.hidden, 2, dtype);
  g->reset_all(init, nn::Init::reference);
  d->reset_all(init, nn::Init::reference);
  g->to(dev);
  d->to(dev);

  data::MixtureOfGaussians mog;
  Generator data_gen(c.seed + 1);
  // Every rank draws the whole global batch (the same numbers for any number of ranks) and
  // keeps its rows: the global batch and its order do not depend on the number of ranks.
  const int64_t shard = c.batch / ranks, first = comm->rank() * shard;
  int64_t drawn = 0;  // batches drawn (the fault hook counts steps by them)
  solvers::BatchFn batches = [&] {
    solvers::Batch b;
    b.real = mog.sample(c.batch, data_gen, dtype, dev);
    b.z = Tensor::empty({c.batch, c.latent}, dtype, dev);
    fill_normal(b.z, data_gen);
    if (ranks > 1) {
      b.real = b.real.slice(first, first + shard), b.z = b.z.slice(first, first + shard);
      app::fault_rank(comm->rank(), ++drawn, b.real);
    }
    return b;
  };
  // The method, from the one registry every app uses (solvers/stepper.h).
  solvers::StepperOptions so;
  so.adam = {c.adam_lr, 0.5, 0.999, 1e-8};
  so.n_dis = c.n_dis;
  so.adaptive = solvers::AdaptiveOptions{c.atol, c.rtol};
  so.implicit.rtol = c.rtol, so.implicit.atol = c.atol, so.implicit.max_iterations = c.max_iterations;
  so.implicit.solver = c.implicit_solver, so.implicit.krylov = c.krylov;
  std::unique_ptr<solvers::Stepper> stepper = solvers::make_stepper(c.method, so);
  const std::string& method = stepper->name();
  solvers::GameOptions opt;
  opt.loss = solvers::parse_loss(c.loss);
  opt.per_player = c.per_player;
  opt.fresh_batch_per_stage = c.fresh_batches;
  opt.reg_lambda = stepper->uses_regulariser() ? c.lambda : 0.0;  // the SN-GAN baseline has none
  opt.comm = comm;
  opt.bucket_bytes = static_cast<size_t>(c.bucket_mb * (1 << 20));
  solvers::GanGame game(solvers::Players::unconditional(g, d), batches, opt);
  if (root && ranks > 1)
    std::printf("data parallel: %s, %lld samples per rank of each batch of %lld\n", comm->describe().c_str(),
                static_cast<long long>(shard), static_cast<long long>(c.batch));

  // Fixed latents for evaluation and figures.
  Generator eval_gen(c.seed + 2);
  Tensor z_eval = Tensor::empty({c.eval_samples, c.latent}, dtype, dev);
  fill_normal(z_eval, eval_gen);

  // Resume.
  int64_t start = 0;
  const std::string ckpt_dir = dir + "/checkpoints";
  if (c.resume) {
    if (auto ck = app::load_latest_checkpoint(ckpt_dir)) {
      // Every field is checked before anything is used (or config.json rewritten).
      start = ck->step();
      ODEGAN_CHECK(start <= c.steps, "checkpoint '", ck->path, "' is at step ", start, ", beyond --steps ", c.steps);
      load_training_state(*ck, game, *stepper);
      data_gen.set_state(ck->get_uint("data_seed"), ck->get_uint("data_offset"));
      if (root) std::printf("resuming %s from step %lld\n", dir.c_str(), static_cast<long long>(start));
    } else if (root) {
      std::printf("no checkpoint in %s: starting from step 0\n", ckpt_dir.c_str());
    }
  }
  if (!root) {  // the other ranks only train (and reach every collective rank 0 reaches)
    for (int64_t step = start; step < c.steps; ++step) {
      const solvers::StepStats s = stepper->step(game, c.h);
      ODEGAN_CHECK(s.finite, "training diverged at step ", step + 1, " (rank 0 reports it)");
      if (c.error_every > 0 && (step + 1) % c.error_every == 0) solvers::local_error_estimate(game, c.h);
    }
    return json::object();
  }
  // The resume is valid: only now is config.json (re)written and the log cut back.
  app::write_json(dir + "/config.json", json(c));
  std::vector<std::string> columns = kColumns;
  if (stepper->reports_iterations()) columns.push_back("iterations");
  app::MetricsLog log(dir + "/metrics.csv", columns, c.resume ? start : -1);
  app::TensorBoardWriter tb(dir, c.resume ? start : -1);
  auto checkpoint = [&](int64_t step) {
    app::Checkpoint ck;
    app::save_training_state(ck, game, *stepper);
    ck.info["data_seed"] = data_gen.seed();
    ck.info["data_offset"] = data_gen.offset();
    log.sync();  // the log on disk covers every step up to this checkpoint before it exists
    tb.flush();
    app::save_checkpoint(ckpt_dir, step, ck);
  };

  const std::vector<int64_t> fig_points = figure_points(c);
  auto snapshot = [&](int64_t step) {
    app::save_mog_snapshot(dir + "/snapshots", step, *g, *d, z_eval);
  };
  auto evaluate = [&]() {
    ad::NoGradGuard no_grad;
    g->eval();
    Tensor x = (*g)(ad::Var(z_eval)).data();
    g->train();
    return data::mog_quality(x);
  };

  app::Progress progress(c.steps, "steps");
  double step_ms_total = 0;
  int64_t timed = 0;
  if (start == 0 && std::count(fig_points.begin(), fig_points.end(), 0)) snapshot(0);
  for (int64_t step = start; step < c.steps; ++step) {
    auto t0 = std::chrono::steady_clock::now();
    solvers::StepStats s = stepper->step(game, c.h);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!s.finite) {
      progress.finish();
      ODEGAN_FAIL("training diverged at step ", step + 1, " (loss_d = ", s.loss_d, ", loss_g = ", s.loss_g,
                  ", |grad_G| = ", s.grad_norm_g, "): a loss or the parameters are NaN/Inf. The last good checkpoint "
                  "is kept in ", ckpt_dir, "; try a smaller --h or a larger --lambda");
    }
    step_ms_total += ms;
    ++timed;
    const int64_t done = step + 1;
    if (c.error_every > 0 && done % c.error_every == 0) s.error = solvers::local_error_estimate(game, c.h);
    double modes = NAN, hq = NAN;
    if (c.eval_every > 0 && (done % c.eval_every == 0 || done == c.steps)) {
      data::MogQuality q = evaluate();
      modes = q.modes_covered;
      hq = q.hq_fraction;
    }
    std::vector<double> row = {double(done), s.loss_d, s.loss_g, s.grad_norm_d, s.grad_norm_g, s.reg_norm, s.h, s.error,
                               ms, modes, hq};
    if (stepper->reports_iterations()) row.push_back(s.iterations);
    log.append(row);
    app::write_step_scalars(tb, done, s, opt.loss, ms);
    tb.scalar("quality/modes", done, modes);  // NaN (no evaluation at this step) is skipped
    tb.scalar("quality/hq_fraction", done, hq);
    if (std::count(fig_points.begin(), fig_points.end(), done)) snapshot(done);
    if ((c.checkpoint_every > 0 && done % c.checkpoint_every == 0) || done == c.steps) checkpoint(done);
    char text[160];
    std::snprintf(text, sizeof text, "l_D %.4f (log4 %.4f)  l_G %.4f (log2 %.4f)%s", s.loss_d,
                  solvers::nash_loss_d(opt.loss), s.loss_g, solvers::nash_loss_g(opt.loss),
                  std::isnan(modes) ? "" : (" modes " + std::to_string(int(modes)) + "/16").c_str());
    progress.update(done, text);
  }
  progress.finish();

  // Summary: losses averaged over the last 1000 steps, final quality, speed.
  data::MogQuality q = evaluate();
  std::vector<double> ld = log.column("loss_d"), lg = log.column("loss_g");
  auto tail_mean = [](const std::vector<double>& v) {
    const size_t n = std::min<size_t>(1000, v.size());
    double s = 0;
    for (size_t i = v.size() - n; i < v.size(); ++i) s += v[i];
    return n ? s / double(n) : NAN;
  };
  json summary = {{"method", method},
                  {"steps", c.steps},
                  {"h", c.h},
                  {"lambda", c.lambda},
                  {"loss", c.loss},
                  {"device", dev.str()},
                  {"modes_covered", q.modes_covered},
                  {"hq_fraction", q.hq_fraction},
                  {"loss_d", tail_mean(ld)},
                  {"loss_g", tail_mean(lg)},
                  {"nash_loss_d", solvers::nash_loss_d(opt.loss)},
                  {"nash_loss_g", solvers::nash_loss_g(opt.loss)},
                  {"ms_per_step", timed ? step_ms_total / double(timed) : NAN},
                  {"per_mode", q.per_mode}};
  if (ranks > 1) {
    summary["ranks"] = ranks;
    summary["allreduce_bytes_per_step"] = timed ? static_cast<double>(comm->bytes_reduced()) / double(timed) : 0.0;
  }
  app::write_json(dir + "/metrics.json", summary);
  app::write_mog_figures(dir, log, fig_points, method, opt.loss);
  tb.image_file("mog", c.steps, dir + "/mog.png");
  tb.image_file("losses", c.steps, dir + "/losses.png");
  tb.flush();
  std::printf("%s: %d/16 modes, %.1f%% high-quality samples, l_D %.4f (log 4 = %.4f), l_G %.4f (log 2 = %.4f), "
              "%.2f ms/step\n",
              method.c_str(), q.modes_covered, 100 * q.hq_fraction, double(summary["loss_d"]), std::log(4.0),
              double(summary["loss_g"]), std::log(2.0), double(summary["ms_per_step"]));
  std::printf("wrote %s/{metrics.json,metrics.csv,mog.png,losses.png,checkpoints/,events.out.tfevents.*}\n",
              dir.c_str());
  return summary;
}

}  // namespace

int main(int argc, char** argv) {
  return app::run_main("odegan_mog", [&] {
    Config c;
    CLI::App cli{"ODE-GAN on the 16-mode mixture of Gaussians (paper Fig. 2)"};
    cli.option_defaults()->always_capture_default();  // --help shows defaults
    cli.add_option("--out", c.out, "run directory (created if missing)");
    cli.add_option("--device", c.device, "cpu, cuda, cuda:N or auto");
    cli.add_option("--method", c.method, solvers::stepper_help());
    namespace flags = app::flags;
    cli.add_option("--compare", c.compare, "comma-separated methods run side by side (e.g. euler,rk4)")
        ->check(flags::list());
    cli.add_option("--steps", c.steps, "training steps")->check(flags::integer(0, flags::kMaxSteps));
    cli.add_option("--h", c.h, "step size (initial step size for adaptive methods)")->check(flags::positive());
    cli.add_option("--lambda", c.lambda, "gradient regulariser weight (0: off)")->check(flags::nonnegative());
    cli.add_option("--batch", c.batch, "batch size (stratified over the 16 modes)")->check(flags::integer(1, 1 << 20));
    cli.add_option("--latent", c.latent, "latent dimension")->check(flags::integer(1, 1 << 16));
    cli.add_option("--hidden", c.hidden, "hidden units per layer")->check(flags::integer(1, 1 << 16));
    cli.add_option("--seed", c.seed, "random seed")->check(flags::integer(0, INT64_MAX));
    cli.add_option("--loss", c.loss, "non_saturating, saturating, hinge or wasserstein");
    cli.add_flag("--per-player", c.per_player, "integrate each player with the other frozen (reference notebook)");
    cli.add_flag("--fresh-batches", c.fresh_batches, "new data and noise for every RK stage");
    cli.add_option("--dtype", c.dtype, "float32 or float64");
    cli.add_option("--eval-every", c.eval_every, "steps between quality evaluations")
        ->check(flags::integer(0, flags::kMaxSteps));
    cli.add_option("--eval-samples", c.eval_samples, "samples for the quality metrics")
        ->check(flags::integer(1, 1 << 24));
    cli.add_option("--checkpoint-every", c.checkpoint_every, "steps between checkpoints")
        ->check(flags::integer(0, flags::kMaxSteps));
    cli.add_option("--error-every", c.error_every, "steps between Fehlberg error estimates (0: never)")
        ->check(flags::integer(0, flags::kMaxSteps));
    cli.add_option("--adam-lr", c.adam_lr, "learning rate of the adam method")->check(flags::positive());
    cli.add_option("--n-dis", c.n_dis, "sngan: discriminator steps per generator step")->check(flags::integer(1, 1000));
    cli.add_option("--rtol", c.rtol, "adaptive methods: relative tolerance")->check(flags::real(0, 1, true));
    cli.add_option("--atol", c.atol, "adaptive methods: absolute tolerance")->check(flags::nonnegative());
    cli.add_option("--max-iterations", c.max_iterations, "implicit methods: iteration cap per step (tolerance: --rtol, --atol)")
        ->check(flags::integer(1, 10000));
    cli.add_option("--implicit-solver", c.implicit_solver, "implicit methods: fixed_point or newton (Newton-Krylov)")
        ->check(CLI::IsMember({"fixed_point", "newton"}));
    cli.add_option("--krylov", c.krylov, "implicit methods with newton: GMRES iterations per Newton iteration")
        ->check(flags::integer(1, 1000));
    cli.add_option("--figure-steps", c.figure_steps, "four steps shown in mog.png (default 0, 1/3, 2/3, end)")
        ->check(flags::integer_list(0, flags::kMaxSteps));
    cli.add_option("--bucket-mb", c.bucket_mb,
                   "with several ranks: all-reduce gradients in buckets of this many MB while backward runs "
                   "(0: one all-reduce after it)")
        ->check(flags::real(0, 1024));
    cli.add_flag("--resume", c.resume, "continue from the latest checkpoint in --out");
    try {
      cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli.exit(e);
    }
    figure_points(c);  // a bad --figure-steps or method is refused before anything is written
    for (const std::string& m : c.compare.empty() ? std::vector<std::string>{c.method} : app::flags::split(c.compare))
      solvers::make_stepper(m);
    if (c.compare.empty()) {
      run_one(c, c.out);
      return 0;
    }
    const std::vector<std::string> methods = app::flags::split(c.compare);
    json all = json::object();
    for (const std::string& method : methods) {
      Config mc = c;
      mc.method = method;
      std::printf("== %s\n", method.c_str());
      all[method] = run_one(mc, c.out + "/" + method);
    }
    app::write_json(c.out + "/compare.json", all);
    app::write_mog_comparison(c.out, methods, figure_points(c));
    std::printf("wrote %s/compare.png and compare.json\n", c.out.c_str());
    return 0;
  });
}
