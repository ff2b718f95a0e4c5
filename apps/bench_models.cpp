// Benchmark of the paper's networks: forward, backward and the regulariser's double
// backward for the DCGAN (or ResNet) pair, one full ODE-GAN step (RK4 + regulariser), and
// peak memory. The regulariser's cost is reported relative to one plain backward.
//   odegan_bench_models [--device cpu|cuda|auto] [--arch dcgan|resnet] [--batch 64] [--width 1] [--profile]
// --profile adds, after each timed phase, where its time went: wall time per kernel (op
// name), per repetition, and the rest outside kernels (autodiff bookkeeping, allocation).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <sys/resource.h>

#include "apps/common/flags.h"
#include "apps/common/image_gan.h"
#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "core/profile.h"
#include "core/rng.h"
#include "kernels/matmul.h"
#include "solvers/gan_game.h"
#include "solvers/stepper.h"
#include "solvers/runge_kutta.h"

using namespace odegan;
using ad::Var;

namespace {
Device g_dev;
bool g_profile = false;
void sync() {
  if (g_dev.is_cuda()) Tensor::zeros({1}, DType::f32, g_dev).item();
}
double g_peak_gflops = 0;  // the best gemm rate measured on this machine (--profile)

// The kernels' share of `ms` (per repetition) gathered since the last profile::reset(),
// with the arithmetic of the gemms and convolutions against the gemm's peak rate.
void print_profile(const char* phase, double ms, int iters) {
  std::vector<profile::Entry> entries = profile::snapshot();
  double in_kernels = 0, flops = 0;
  for (const profile::Entry& e : entries) in_kernels += e.seconds, flops += e.flops;
  in_kernels = in_kernels * 1e3 / iters;
  flops /= iters;
  std::printf("    profile of %s: %.1f ms per repetition, %.1f ms (%.0f%%) in kernels\n", phase, ms, in_kernels,
              100 * in_kernels / ms);
  std::printf("      %-28s %8s %10s %7s %9s\n", "kernel", "calls", "ms", "share", "GFLOP/s");
  for (const profile::Entry& e : entries) {
    const double t = e.seconds * 1e3 / iters;
    if (t < 0.005 * ms) continue;
    std::printf("      %-28s %8.0f %10.2f %6.1f%%", e.name.c_str(), double(e.calls) / iters, t, 100 * t / ms);
    if (e.flops > 0) std::printf(" %9.1f", e.flops / e.seconds / 1e9);
    std::printf("\n");
  }
  std::printf("      %-28s %8s %10.2f %6.1f%%\n", "(outside kernels)", "", ms - in_kernels, 100 * (ms - in_kernels) / ms);
  if (flops > 0 && g_peak_gflops > 0) {
    const double floor_ms = flops / g_peak_gflops / 1e6;
    std::printf("      %.2f GFLOP in gemms and convolutions; at the gemm's peak (%.0f GFLOP/s) that is %.1f ms: this "
                "phase runs at %.0f%% of that floor\n",
                flops / 1e9, g_peak_gflops, floor_ms, 100 * floor_ms / ms);
  }
}

// The best rate of a large square float32 gemm on every thread: the machine's practical
// peak for the arithmetic of these networks.
double measure_gemm_peak() {
  const int64_t n = g_dev.is_cuda() ? 4096 : 1536;
  Generator gen(7);
  Tensor a = Tensor::empty({n, n}, DType::f32, g_dev), b = Tensor::empty({n, n}, DType::f32, g_dev);
  fill_uniform(a, gen, -1, 1);
  fill_uniform(b, gen, -1, 1);
  Tensor c = Tensor::empty({n, n}, DType::f32, g_dev);
  for (int warm = 0; warm < 3; ++warm) kernels::gemm(a, false, b, false, c);  // threads, pages, clocks
  double best = 0;
  for (int rep = 0; rep < 10; ++rep) {
    sync();
    auto t0 = std::chrono::steady_clock::now();
    kernels::gemm(a, false, b, false, c);
    sync();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * n * n * n / s / 1e9);
  }
  return best;
}
double time_ms(const std::function<void()>& f, int iters, const char* phase = nullptr) {
  f();
  sync();
  profile::reset();
  profile::enable(g_profile && phase);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) f();
  sync();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters;
  profile::enable(false);
  if (g_profile && phase) print_profile(phase, ms, iters);
  return ms;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Forward / backward / double-backward / RK4-step timings of the paper's networks"};
  cli.option_defaults()->always_capture_default();  // --help shows defaults
  std::string device = "auto", arch = "dcgan", method = "rk4";
  int64_t batch = 64;
  double width = 1.0;
  int iters = 10;
  cli.add_option("--device", device, "cpu, cuda or auto");
  cli.add_option("--arch", arch, "dcgan or resnet");
  namespace flags = app::flags;
  cli.add_option("--batch", batch, "batch size")->check(flags::integer(1, 1 << 16));
  cli.add_option("--width", width, "channel multiplier")->check(flags::real(1.0 / 64, 16));
  cli.add_option("--iters", iters, "timed repetitions")->check(flags::integer(1, 1'000'000));
  cli.add_option("--method", method, "ODE method of the full step");
  cli.add_flag("--profile", g_profile, "print where each phase's time goes, per kernel");
  bool step_only = false;
  cli.add_flag("--step-only", step_only, "time only the full training step (skip forward, backward, double backward)");
  CLI11_PARSE(cli, argc, argv);
  return app::run_main("odegan_bench_models", [&] {
    g_dev = Device::parse(device);
    if (g_profile) {
      g_peak_gflops = measure_gemm_peak();
      std::printf("gemm peak on %s: %.0f GFLOP/s (best of 10 square float32 products)\n", g_dev.str().c_str(),
                  g_peak_gflops);
    }
    app::ImageGanConfig c;
    c.arch = arch;
    c.width = width;
    c.batch = batch;
    solvers::Players p = app::build_players(c, DType::f32, g_dev);
    std::printf("%s pair, width %g, batch %lld on %s: G %lld and D %lld parameters\n", arch.c_str(), width,
                (long long)batch, g_dev.str().c_str(), (long long)p.generator->num_parameters(),
                (long long)p.discriminator->num_parameters());
    Generator gen(1);
    Tensor z = Tensor::empty({batch, c.latent}, DType::f32, g_dev), real = Tensor::empty({batch, 3, 32, 32}, DType::f32, g_dev);
    fill_normal(z, gen);
    fill_uniform(real, gen, -1, 1);
    std::vector<Var> phi = p.generator->parameters(), theta = p.discriminator->parameters();
    auto loss_g = [&] { return ad::mean(ad::softplus(ad::neg(p.discriminate(p.generate(Var(z), Tensor()), Tensor())))); };
    if (!step_only) {
      reset_peak_memory(g_dev);
      const int64_t base = memory_stats(g_dev).current_bytes;
      double fwd = time_ms([&] {
        ad::NoGradGuard ng;
        loss_g();
      }, iters, "the forward");
      double fwd_bwd = time_ms([&] { ad::grad(std::vector<Var>{loss_g()}, phi); }, iters, "forward + backward");
      auto grad_norm_sq = [&] {
        ad::GradOptions keep;
        keep.create_graph = true;
        std::vector<Var> g = ad::grad(std::vector<Var>{loss_g()}, phi, {}, keep);
        Var r;
        for (const Var& v : g) r = r.defined() ? ad::add(r, ad::sum_squares(v)) : ad::sum_squares(v);
        return r;
      };
      double recorded = time_ms([&] { grad_norm_sq(); }, iters, "forward + recorded backward");
      double reg = time_ms([&] { ad::grad(std::vector<Var>{grad_norm_sq()}, theta); }, iters,
                           "forward + recorded backward + double backward");
      const double bwd = fwd_bwd - fwd, rec = recorded - fwd, dbl = reg - recorded;
      std::printf("forward (G + D)                    %9.2f ms\n", fwd);
      std::printf("backward (d l_G / d phi)           %9.2f ms\n", bwd);
      std::printf("  the same, recording its graph    %9.2f ms   = %.2f x (recording overhead)\n", rec, rec / bwd);
      std::printf("double backward (grad_theta |.|^2) %9.2f ms   = %.2f x the plain backward\n", dbl, dbl / bwd);
      std::printf("whole regulariser after forward    %9.2f ms   = %.2f x the plain backward\n", rec + dbl,
                  (rec + dbl) / bwd);
      std::printf("peak memory during these           %9.1f MB above the parameters\n",
                  (memory_stats(g_dev).peak_bytes - base) / 1e6);
    }
    // One ODE-GAN training step on random "real" images.
    solvers::GameOptions o;
    o.reg_lambda = 0.02;
    o.fresh_batch_per_stage = true;
    solvers::GanGame game(p, [&] {
      solvers::Batch b;
      b.real = real;
      b.z = Tensor::empty({batch, c.latent}, DType::f32, g_dev);
      fill_normal(b.z, gen);
      return b;
    }, o);
    std::unique_ptr<solvers::Stepper> rk = solvers::make_stepper(method);
    reset_peak_memory(g_dev);
    int evals = 0;
    double step = time_ms([&] { evals = rk->step(game, 0.01).evaluations; }, std::max(1, iters / 2), "the step");
    std::printf("%s step with regulariser          %9.2f ms   %.0f images/s (real + generated through D, per stage)\n",
                method.c_str(), step, 1000.0 * batch * evals / step);
    std::printf("peak memory of the step            %9.1f MB  (solver buffers %.1f MB)\n",
                memory_stats(g_dev).peak_bytes / 1e6, rk->workspace_bytes() / 1e6);
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("peak resident memory of the process %8.1f MB  (tensors, kernels' scratch buffers, code)\n",
                ru.ru_maxrss / 1024.0);
    return 0;
  });
}
