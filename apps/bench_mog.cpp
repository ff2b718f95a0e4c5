// Benchmark: milliseconds per training step of the MoG ODE-GAN (RK4 + regulariser by
// default), the speed target (<= 1/3 of PyTorch CPU eager: 4 ms on 2 cores).
//   odegan_bench_mog [--device cpu|cuda|auto] [--method rk4] [--steps 300] [--warmup 30]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "apps/common/flags.h"
#include "core/rng.h"
#include "data/mog.h"
#include "layers/init.h"
#include "layers/models/mog.h"
#include "solvers/gan_game.h"
#include "solvers/stepper.h"
#include "solvers/runge_kutta.h"

using namespace odegan;

int main(int argc, char** argv) {
  CLI::App app{"Milliseconds per MoG ODE-GAN training step"};
  app.option_defaults()->always_capture_default();  // --help shows defaults
  std::string device_name = "auto", method = "rk4";
  int steps = 300, warmup = 30;
  int64_t batch = 512;
  double lambda = 0.07, h = 0.1;
  app.add_option("--device", device_name, "cpu, cuda or auto");
  app.add_option("--method", method, "ODE method (euler, rk2, rk4, ...)");
  namespace flags = odegan::app::flags;
  app.add_option("--steps", steps, "timed steps")->check(flags::integer(1, 100'000'000));
  app.add_option("--warmup", warmup, "untimed steps first")->check(flags::integer(0, 100'000'000));
  app.add_option("--batch", batch, "batch size")->check(flags::integer(1, 1 << 20));
  app.add_option("--lambda", lambda, "regulariser weight (0: off)")->check(flags::nonnegative());
  CLI11_PARSE(app, argc, argv);
  try {
    Device dev = Device::parse(device_name);
    Generator gen(1);
    auto g = nn::models::mog_generator();
    auto d = nn::models::mog_discriminator();
    g->reset_all(gen, nn::Init::reference);
    d->reset_all(gen, nn::Init::reference);
    g->to(dev);
    d->to(dev);
    data::MixtureOfGaussians mog;
    Generator data_gen(2);
    solvers::BatchFn batches = [&] {
      solvers::Batch b;
      b.real = mog.sample(batch, data_gen, DType::f32, dev);
      b.z = Tensor::empty({batch, 32}, DType::f32, dev);
      fill_normal(b.z, data_gen);
      return b;
    };
    solvers::GameOptions opt;
    opt.reg_lambda = lambda;
    solvers::GanGame game(solvers::Players::unconditional(g, d), batches, opt);
    std::unique_ptr<solvers::Stepper> rk = solvers::make_stepper(method);
    for (int i = 0; i < warmup; ++i) rk->step(game, h);
    reset_peak_memory(dev);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) rk->step(game, h);
    game.state().slice(0, 1).item();  // waits for the GPU (reads one value)
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;
    std::printf("device %s  method %s  lambda %g  batch %lld: %.3f ms/step (%d steps)  peak %s memory %.2f MB\n",
                dev.str().c_str(), method.c_str(), lambda, static_cast<long long>(batch), ms, steps,
                dev.str().c_str(), memory_stats(dev).peak_bytes / 1e6);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "odegan_bench_mog: %s\n", e.what());
    return 1;
  }
  return 0;
}
