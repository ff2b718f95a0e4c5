// One whole ODE-GAN training step against an independent implementation: PyTorch's
// autograd (scripts/peer_pytorch_gan.py --make-fixture) ran one RK4 step with the
// regulariser on a tiny DCGAN pair in float64 from a stored start point and stored
// batches; our GanGame must land on the same parameters, batch-norm running statistics,
// losses and eval-mode samples. It covers what the FD comparison with the peer depends
// on: the networks, the loss, the stage bookkeeping (fresh batch per stage, regulariser
// from the first stage's batch at the start point, applied after the step), batch-norm
// training statistics and the number of running-stat updates per step.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/var.h"
#include "core/safetensors.h"
#include "layers/models/dcgan.h"
#include "solvers/gan_game.h"
#include "solvers/stepper.h"
#include "tests/common/test_util.h"

namespace odegan::solvers {
namespace {

const std::string kFixture = std::string(ODEGAN_SOURCE_DIR) + "/tests/fixtures/peer_step/dcgan_rk4_step.safetensors";

std::vector<double> values(const Tensor& t) { return t.to(DType::f64).to_vector<double>(); }

// max_i |a_i - b_i| / max_i |b_i|
double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    err = std::max(err, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale > 0 ? err / scale : err;
}

TEST(PeerStep, Rk4StepWithRegulariserMatchesPytorch) {
  TensorMap f = load_safetensors(kFixture);
  nn::models::DcganOptions o;
  o.latent = 8;
  o.image_channels = 1;
  o.image_size = 8;
  o.width = 1.0 / 32;
  o.dtype = DType::f64;
  Players p = Players::unconditional(nn::models::dcgan_generator(o), nn::models::dcgan_discriminator(o));
  int next = 0;
  BatchFn batches = [&] {
    Batch b;
    b.real = f.at("real" + std::to_string(next)).to(DType::f64);
    b.z = f.at("z" + std::to_string(next)).to(DType::f64);
    ++next;
    return b;
  };
  GameOptions opt;
  opt.fresh_batch_per_stage = true;
  opt.reg_lambda = f.at("lambda").to(DType::f64).to_vector<double>()[0];
  GanGame game(p, batches, opt);
  const std::vector<double> state0 = values(f.at("state0"));
  ASSERT_EQ(game.state().numel(), static_cast<int64_t>(state0.size()));  // same networks, same parameter layout
  game.state().copy_(f.at("state0").to(DType::f64));
  const double h = f.at("h").to(DType::f64).to_vector<double>()[0];
  StepStats s = make_stepper("rk4")->step(game, h);
  EXPECT_EQ(next, 4);  // one batch per stage
  EXPECT_NEAR(s.loss_d, values(f.at("loss_d0"))[0], 1e-12);
  EXPECT_NEAR(s.loss_g, values(f.at("loss_g0"))[0], 1e-12);
  // The step itself (state1 - state0; stored as float32, hence 1e-6).
  std::vector<double> delta = values(game.state());
  for (size_t i = 0; i < delta.size(); ++i) delta[i] -= state0[i];
  EXPECT_LT(rel_error(delta, values(f.at("delta"))), 1e-6);
  // Batch-norm running statistics after 4 updates (momentum 0.001, unbiased variance).
  std::vector<double> mean, var;
  for (auto& [name, buf] : p.generator->named_buffers()) {
    std::vector<double> v = values(*buf);
    auto& dst = name.find("running_mean") != std::string::npos ? mean : var;
    dst.insert(dst.end(), v.begin(), v.end());
  }
  EXPECT_LT(rel_error(mean, values(f.at("bn_mean"))), 1e-9);
  std::vector<double> var_change = var, peer_var_change = values(f.at("bn_var"));
  for (double& v : var_change) v -= 1;
  for (double& v : peer_var_change) v -= 1;
  EXPECT_LT(rel_error(var_change, peer_var_change), 1e-8);
  // Eval-mode samples (running statistics) after the step.
  ad::NoGradGuard no_grad;
  p.generator->eval();
  Tensor x = p.generate(ad::Var(f.at("z_eval").to(DType::f64)), Tensor()).data();
  EXPECT_LT(rel_error(values(x), values(f.at("samples_eval"))), 1e-9);
}

}  // namespace
}  // namespace odegan::solvers
