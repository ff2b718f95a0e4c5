// Overlapping the all-reduce with the backward pass (GameOptions::bucket_bytes,
// core/comm.h's GradientBuckets), in one process: how parameters fall into buckets; and
// the game's velocity and regulariser with buckets against the same game reducing once
// after backward, through a two-rank stand-in communicator whose "other rank" holds the
// same values. The stand-in reduces a started tensor only in wait_all(), from a snapshot
// taken at start, and holds NaN meanwhile: a bucket started before its gradients were
// final, a range never reduced, or a value read before wait_all() gives different numbers. (Under mpirun, the same bits
// with and without buckets: tests/apps/parallel_test.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "core/comm.h"
#include "core/rng.h"
#include "layers/layers.h"
#include "solvers/gan_game.h"
#include "tests/common/test_util.h"

namespace odegan {
namespace {

// Two ranks with identical data: a sum doubles, a mean gives the values back exactly.
class TwinRanks final : public Communicator {
 public:
  TwinRanks() { size_ = 2; }
  void all_reduce_sum(Tensor& t) override {
    ++blocking;
    double_in_place(t);
  }
  void start_all_reduce_sum(const Tensor& t) override {
    started.push_back({t, t.clone()});
    starts.push_back(t.numel());
    Tensor in_flight = t;  // an in-place reduction under way: not yet readable
    in_flight.fill_(std::nan(""));
  }
  void progress() override { ++progress_calls; }
  void wait_all() override {
    for (auto& [dst, snapshot] : started) {
      double_in_place(snapshot);
      dst.copy_(snapshot);
    }
    started.clear();
  }
  void broadcast(Tensor&, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
  std::string describe() const override { return "twin ranks (test)"; }

  int blocking = 0, progress_calls = 0;
  std::vector<int64_t> starts;  // sizes of the started tensors, in order

 private:
  static void double_in_place(Tensor& t) {
    std::vector<double> v = t.to(DType::f64).to_vector<double>();
    for (double& x : v) x *= 2;
    t.copy_(Tensor::from_vector<double>(v, t.shape()).to(t.dtype()));
  }
  std::vector<std::pair<Tensor, Tensor>> started;
};

TEST(GradientBuckets, ConsecutiveParametersFromTheLastNeverAcrossAGroup) {
  // 6 parameters of 4-byte values; groups [0, 3) and [3, 6); buckets of >= 40 bytes.
  const std::vector<int64_t> sizes = {5, 20, 3, 4, 4, 8};
  GradientBuckets b(sizes, {3}, 40, 4);
  // Group 2 from its end: {5} (32 B) grows to {4, 5} (48 B); then {3} alone (the group's
  // first). Group 1: {2} (12 B) -> {1, 2} (92 B); then {0}.
  ASSERT_EQ(b.num_buckets(), 4u);
  EXPECT_EQ(b.bucket(0), (std::pair<size_t, size_t>{4, 6}));
  EXPECT_EQ(b.bucket(1), (std::pair<size_t, size_t>{3, 4}));
  EXPECT_EQ(b.bucket(2), (std::pair<size_t, size_t>{1, 3}));
  EXPECT_EQ(b.bucket(3), (std::pair<size_t, size_t>{0, 1}));
  // A run that reaches the size exactly stops there: {4, 5} is 48 bytes.
  GradientBuckets exact(sizes, {3}, 48, 4);
  ASSERT_EQ(exact.num_buckets(), 4u);
  EXPECT_EQ(exact.bucket(0), (std::pair<size_t, size_t>{4, 6}));
  EXPECT_EQ(exact.bucket(2), (std::pair<size_t, size_t>{1, 3}));
  EXPECT_THROW(GradientBuckets(sizes, {0}, 40, 4), Error);
  EXPECT_THROW(GradientBuckets(sizes, {6}, 40, 4), Error);
  EXPECT_THROW(GradientBuckets(sizes, {3}, 0, 4), Error);
}

TEST(GradientBuckets, StartWhenCompleteFinishTheRestAndAverage) {
  const std::vector<int64_t> sizes = {5, 20, 3, 4, 4, 8};
  GradientBuckets b(sizes, {3}, 40, 4);
  Tensor flat = testing::random_tensor({44}, DType::f32, 1);
  const std::vector<float> before = flat.to_vector<float>();
  TwinRanks comm;
  EXPECT_THROW(b.begin(comm, flat, 0, 5), Error);  // 5 splits the bucket {4, 5}
  b.begin(comm, flat, 0, 6);
  EXPECT_THROW(b.begin(comm, flat, 0, 6), Error);
  b.ready(5);
  EXPECT_TRUE(comm.starts.empty());
  b.ready(4);
  EXPECT_EQ(comm.starts, (std::vector<int64_t>{12}));  // {4, 5}: 4 + 8 values
  EXPECT_THROW(b.ready(4), Error);                       // announced twice
  b.ready(2);
  b.ready(0);
  EXPECT_EQ(comm.starts, (std::vector<int64_t>{12, 5}));
  b.finish();  // {3} and {1, 2} were never complete: started now, in backward order
  EXPECT_EQ(comm.starts, (std::vector<int64_t>{12, 5, 4, 23}));
  EXPECT_GE(comm.progress_calls, 3);
  EXPECT_EQ(flat.to_vector<float>(), before);  // (2x) / 2
  EXPECT_FALSE(b.active());
  // A pass over one group only.
  b.begin(comm, flat, 3, 6);
  b.finish();
  EXPECT_EQ(comm.starts.size(), 6u);
  // One rank: nothing happens.
  auto one = Communicator::single();
  b.begin(*one, flat, 0, 6);
  EXPECT_FALSE(b.active());
  b.ready(0);
  b.finish();
  EXPECT_EQ(flat.to_vector<float>(), before);
}

// A small GAN with batch norm and several parameter tensors per player (float64).
solvers::GanGame make_game(std::shared_ptr<Communicator> comm, size_t bucket_bytes, double lambda) {
  using namespace nn;
  const DType t = DType::f64;
  auto g = std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
      std::make_shared<Linear>(3, 8, true, t), std::make_shared<BatchNorm1d>(8, 1e-5, 0.1, true, t), std::make_shared<ReLU>(),
      std::make_shared<Linear>(8, 8, true, t), std::make_shared<ReLU>(), std::make_shared<Linear>(8, 2, true, t)});
  auto d = std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
      std::make_shared<Linear>(2, 16, true, t), std::make_shared<Tanh>(), std::make_shared<Linear>(16, 8, true, t),
      std::make_shared<LeakyReLU>(0.2), std::make_shared<Linear>(8, 1, true, t)});
  Generator gen(7);
  g->reset_all(gen, Init::reference);
  d->reset_all(gen, Init::reference);
  solvers::GameOptions o;
  o.comm = std::move(comm);
  o.bucket_bytes = bucket_bytes;
  o.reg_lambda = lambda;
  solvers::Batch batch;
  batch.real = testing::random_tensor({6, 2}, t, 10);
  batch.z = testing::random_tensor({6, 3}, t, 11);
  return solvers::GanGame(solvers::Players::unconditional(g, d), [batch] { return batch; }, o);
}

TEST(OverlappedAllReduce, VelocityAndRegulariserEqualTheOneShotReduction) {
  auto once = std::make_shared<TwinRanks>();
  auto bucketed = std::make_shared<TwinRanks>();
  solvers::GanGame a = make_game(once, 0, 0.1);
  solvers::GanGame b = make_game(bucketed, 64, 0.1);  // 8 doubles: a bucket per tensor or two
  solvers::GanGame single = make_game(nullptr, 0, 0.1);
  const int64_t n = a.state().numel();
  for (auto part : {solvers::GanGame::Part::both, solvers::GanGame::Part::discriminator,
                    solvers::GanGame::Part::generator}) {
    Tensor va = Tensor::zeros({n}, DType::f64), vb = Tensor::zeros({n}, DType::f64),
           v1 = Tensor::zeros({n}, DType::f64);
    solvers::StepStats sa, sb;
    const solvers::Batch batch = a.next_batch();
    a.velocity(batch, va, &sa, part);
    b.velocity(batch, vb, &sb, part);
    single.velocity(batch, v1, nullptr, part);
    EXPECT_EQ(vb.to_vector<double>(), va.to_vector<double>()) << int(part);
    EXPECT_EQ(vb.to_vector<double>(), v1.to_vector<double>()) << int(part);
    EXPECT_EQ(sb.grad_norm_d, sa.grad_norm_d);
    EXPECT_EQ(sb.grad_norm_g, sa.grad_norm_g);
  }
  Tensor ga = Tensor::zeros({a.num_theta()}, DType::f64), gb = ga.clone(), g1 = ga.clone();
  Tensor va = Tensor::zeros({n}, DType::f64), vb = va.clone(), v1 = va.clone();
  solvers::StepStats sa, sb, s1;
  const solvers::Batch batch = a.next_batch();
  a.regulariser_and_velocity(batch, ga, va, &sa);
  b.regulariser_and_velocity(batch, gb, vb, &sb);
  single.regulariser_and_velocity(batch, g1, v1, &s1);
  EXPECT_EQ(gb.to_vector<double>(), ga.to_vector<double>());
  EXPECT_EQ(vb.to_vector<double>(), va.to_vector<double>());
  EXPECT_EQ(gb.to_vector<double>(), g1.to_vector<double>());
  EXPECT_EQ(vb.to_vector<double>(), v1.to_vector<double>());
  EXPECT_EQ(sb.reg_norm, sa.reg_norm);
  EXPECT_EQ(sb.grad_norm_d, sa.grad_norm_d);
  // The bucketed game started several all-reduces per pass; the other none.
  EXPECT_GT(bucketed->starts.size(), 10u);
  EXPECT_TRUE(once->starts.empty());
  EXPECT_GT(once->blocking, 0);
}

// The NCCL backend on one GPU (world size 1, no MPI): real NCCL calls, blocking and
// overlapped on the side stream while the device's stream keeps working, leave the values
// as they are. (Two ranks need two GPUs: none of the machines this was written on had one.)
TEST(NcclBackend, OneRankCollectivesRunOnTheDeviceAndLeaveTheValues) {
  if (!Communicator::has_nccl()) {
    EXPECT_THROW(Communicator::nccl_single(0), Error);
    GTEST_SKIP() << "built without NCCL (needs CUDA and nccl.h at configure time)";
  }
  ODEGAN_REQUIRE_CUDA();
  auto comm = Communicator::nccl_single(0);
  const Device gpu = Device::cuda(0);
  Tensor x = testing::random_tensor({3000}, DType::f32, 3, -1, 1, gpu);
  const std::vector<float> before = x.to(Device::cpu()).to_vector<float>();
  comm->all_reduce_sum(x);
  EXPECT_EQ(x.to(Device::cpu()).to_vector<float>(), before);
  // Overlapped: three slices on the side stream while a kernel fills another tensor.
  comm->start_all_reduce_sum(x.slice(0, 1000));
  comm->start_all_reduce_sum(x.slice(1000, 2000));
  Tensor y = Tensor::zeros({1 << 20}, DType::f32, gpu);
  y.fill_(2.0);
  comm->start_all_reduce_sum(x.slice(2000, 3000));
  comm->wait_all();
  EXPECT_EQ(x.to(Device::cpu()).to_vector<float>(), before);
  comm->broadcast(x, 0);
  EXPECT_EQ(x.to(Device::cpu()).to_vector<float>(), before);
  EXPECT_EQ(y.to(Device::cpu()).to_vector<float>()[12345], 2.0f);
  Tensor on_cpu = Tensor::zeros({4}, DType::f32);
  EXPECT_THROW(comm->all_reduce_sum(on_cpu), Error);
}

}  // namespace
}  // namespace odegan
