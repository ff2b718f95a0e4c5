// A tiny ODE-GAN with the out-of-tree PReLU layer in both players: 8 Gaussians on a ring,
// integrated with RK4 plus the gradient regulariser (Algorithm 1 of the ODE-GAN paper)
// through the framework's stepper registry. Prints progress and the modes it covers.
//
//   train_ring [--steps N] [--method NAME] [--device cpu|cuda]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/rng.h"
#include "layers/layers.h"
#include "prelu.h"
#include "solvers/stepper.h"

using namespace odegan;

namespace {

constexpr int kModes = 8;
constexpr double kRadius = 2.0, kStd = 0.05;

// (n, 2) points: mode i % 8 on the ring plus N(0, kStd^2 I) noise.
Tensor ring_batch(int64_t n, Generator& gen, Device device) {
  Tensor noise = Tensor::empty({n, 2}, DType::f32);
  fill_normal(noise, gen, 0.0, kStd);
  std::vector<float> v = noise.to_vector<float>();
  for (int64_t i = 0; i < n; ++i) {
    const double angle = 2 * M_PI * static_cast<double>(i % kModes) / kModes;
    v[2 * i] += static_cast<float>(kRadius * std::cos(angle));
    v[2 * i + 1] += static_cast<float>(kRadius * std::sin(angle));
  }
  return Tensor::from_vector(v, {n, 2}).to(device);
}

// Modes with at least one sample within 3 standard deviations, and that fraction of samples.
std::pair<int, double> quality(const Tensor& samples) {
  const std::vector<float> s = samples.to(Device::cpu()).to_vector<float>();
  bool covered[kModes] = {};
  int good = 0;
  const int64_t n = static_cast<int64_t>(s.size() / 2);
  for (int64_t i = 0; i < n; ++i)
    for (int m = 0; m < kModes; ++m) {
      const double angle = 2 * M_PI * m / kModes;
      if (std::hypot(s[2 * i] - kRadius * std::cos(angle), s[2 * i + 1] - kRadius * std::sin(angle)) < 3 * kStd) {
        covered[m] = true, ++good;
        break;
      }
    }
  int modes = 0;
  for (bool c : covered) modes += c;
  return {modes, static_cast<double>(good) / static_cast<double>(n)};
}

std::shared_ptr<nn::Sequential> mlp(int64_t in, int64_t hidden, int64_t out) {
  return std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(in, hidden), std::make_shared<example::PReLU>(hidden),
      std::make_shared<nn::Linear>(hidden, hidden), std::make_shared<example::PReLU>(hidden),
      std::make_shared<nn::Linear>(hidden, out)});
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 3000;
  std::string method = "rk4", device = "cpu";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--method")) method = argv[i + 1];
    else if (!std::strcmp(argv[i], "--device")) device = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: %s [--steps N] [--method NAME] [--device cpu|cuda]\n", argv[0]);
      return 2;
    }
  }
  try {
    const Device dev = Device::parse(device);
    const int64_t latent = 16, batch = 256;
    Generator init(1), data(2), eval(3);
    auto g = mlp(latent, 64, 2), d = mlp(2, 64, 1);
    g->reset_all(init, nn::Init::reference);
    d->reset_all(init, nn::Init::reference);
    g->to(dev);
    d->to(dev);

    solvers::BatchFn batches = [&] {
      solvers::Batch b;
      b.real = ring_batch(batch, data, dev);
      b.z = Tensor::empty({batch, latent}, DType::f32, dev);
      fill_normal(b.z, data);
      return b;
    };
    solvers::GameOptions options;
    options.reg_lambda = 0.01;
    solvers::GanGame game(solvers::Players::unconditional(g, d), batches, options);
    std::unique_ptr<solvers::Stepper> stepper = solvers::make_stepper(method);

    Tensor z_eval = Tensor::empty({1000, latent}, DType::f32, dev);
    fill_normal(z_eval, eval);
    std::printf("train_ring: %s, %d steps, G %lld + D %lld parameters\n", stepper->name().c_str(), steps,
                static_cast<long long>(g->num_parameters()), static_cast<long long>(d->num_parameters()));
    for (int step = 1; step <= steps; ++step) {
      const solvers::StepStats st = stepper->step(game, 0.05);
      if (!st.finite) {
        std::fprintf(stderr, "train_ring: step %d is not finite (l_D %g, l_G %g)\n", step, st.loss_d, st.loss_g);
        return 1;
      }
      if (step % 500 == 0 || step == steps) {
        ad::NoGradGuard no_grad;
        const auto [modes, good] = quality((*g)(ad::Var(z_eval)).data());
        std::printf("step %5d  l_D %.4f  l_G %.4f  modes %d/%d  within 3 std %.1f%%\n", step, st.loss_d, st.loss_g,
                    modes, kModes, 100 * good);
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_ring: %s\n", e.what());
    return 1;
  }
  return 0;
}
