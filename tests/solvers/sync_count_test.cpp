// Host-device synchronisations in one training step (core/sync_count.h): an RK4 +
// regulariser step of the DCGAN, and of a conditional ResNet with spectral norm (the
// embedding and spectral-norm paths), counted on the CPU (reads of tensor values on the
// host, each a sync on a GPU) and on CUDA (real syncs). The counts are exact: a new
// .item() or host copy in the hot path changes them and fails here.
#include <gtest/gtest.h>

#include "core/rng.h"
#include "core/sync_count.h"
#include "layers/models/dcgan.h"
#include "layers/models/resnet.h"
#include "solvers/butcher.h"
#include "solvers/gan_game.h"
#include "solvers/stepper.h"
#include "solvers/runge_kutta.h"
#include "tests/common/test_util.h"

namespace odegan::solvers {
namespace {

// What one step reports costs one read of the packed statistics and one of the
// finiteness flag (solvers/gan_game.cpp); nothing else in the step reads the device.
constexpr int64_t kSyncsPerStep = 2;

struct Fixture {
  Players players;
  Batch batch;
};

Fixture dcgan(Device dev) {
  nn::models::DcganOptions o;
  o.latent = 8;
  o.image_size = 8;
  o.width = 1.0 / 16;
  Players p = Players::unconditional(nn::models::dcgan_generator(o), nn::models::dcgan_discriminator(o));
  Generator init(1);
  p.generator->reset_all(init, nn::Init::reference);
  p.discriminator->reset_all(init, nn::Init::reference);
  p.generator->to(dev);
  p.discriminator->to(dev);
  Batch b;
  b.real = testing::random_tensor({4, 3, 8, 8}, DType::f32, 2, -1, 1, dev);
  b.z = testing::random_tensor({4, 8}, DType::f32, 3, -1, 1, dev);
  return {p, b};
}

Fixture sn_resnet(Device dev) {
  nn::models::ResNetOptions o;
  o.latent = 8;
  o.num_classes = 3;
  o.spectral_norm = true;
  auto g = nn::models::imagenet_resnet_generator(o, 2, 8);
  auto d = nn::models::imagenet_resnet_discriminator(o, 2, 8);
  Generator init(1);
  g->reset_all(init, nn::Init::reference);
  d->reset_all(init, nn::Init::reference);
  g->to(dev);
  d->to(dev);
  Players p;
  p.generator = g;
  p.discriminator = d;
  p.generate = [g](const Var& z, const Tensor& y) { return g->forward(z, y); };
  p.discriminate = [d](const Var& x, const Tensor& y) { return d->forward(x, y); };
  Batch b;
  b.real = testing::random_tensor({4, 3, 8, 8}, DType::f32, 2, -1, 1, dev);
  b.z = testing::random_tensor({4, 8}, DType::f32, 3, -1, 1, dev);
  b.real_labels = Tensor::from_vector<int32_t>({0, 2, 1, 2}, {4}).to(dev);
  b.fake_labels = Tensor::from_vector<int32_t>({1, 0, 0, 2}, {4}).to(dev);
  return {p, b};
}

// Syncs made by the second RK4 + regulariser step (the first creates the handles and
// caches, which may sync once).
int64_t syncs_per_step(const Fixture& f) {
  GameOptions opt;
  opt.reg_lambda = 0.01;
  Batch batch = f.batch;
  GanGame game(f.players, [&] { return batch; }, opt);
  auto rk = make_stepper("rk4");
  EXPECT_TRUE(rk->step(game, 0.01).finite);
  const int64_t before = sync_count();
  StepStats s = rk->step(game, 0.01);
  const int64_t n = sync_count() - before;
  EXPECT_TRUE(s.finite);
  EXPECT_GT(s.reg_norm, 0.0);
  return n;
}

TEST(SyncCount, DcganRk4RegulariserStepCpu) {
  EXPECT_EQ(syncs_per_step(dcgan(Device::cpu())), kSyncsPerStep);
}

TEST(SyncCount, ConditionalSpectralNormResNetRk4RegulariserStepCpu) {
  EXPECT_EQ(syncs_per_step(sn_resnet(Device::cpu())), kSyncsPerStep);
}

TEST(SyncCount, DcganRk4RegulariserStepCuda) {
  ODEGAN_REQUIRE_CUDA();
  EXPECT_EQ(syncs_per_step(dcgan(Device::cuda(0))), kSyncsPerStep);
}

TEST(SyncCount, ConditionalSpectralNormResNetRk4RegulariserStepCuda) {
  ODEGAN_REQUIRE_CUDA();
  EXPECT_EQ(syncs_per_step(sn_resnet(Device::cuda(0))), kSyncsPerStep);
}

TEST(SyncCount, HostReadsCount) {
  Tensor t = Tensor::ones({3}, DType::f32);
  int64_t before = sync_count();
  (void)t.to_vector<float>();
  (void)t[0].item();
  EXPECT_EQ(sync_count() - before, 2);
}

}  // namespace
}  // namespace odegan::solvers
