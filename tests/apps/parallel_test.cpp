// Data parallelism (core/comm.h) through the programs, under mpirun -np 2 on the CPU:
// 2 ranks x batch B/2 follow the trajectory of 1 rank x batch B (float64, RK4 + the
// regulariser, many steps) to round-off; the regulariser is the full batch's; checkpoints
// resume on another number of ranks; a rank that fails ends the job at once, saying which.
// Skipped, saying why, when the build has no MPI or mpirun is missing.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/comm.h"
#include "core/safetensors.h"
#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace {
using namespace odegan;
using odegan::testing::bin;
using odegan::testing::run;
namespace fs = std::filesystem;

class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Communicator::has_mpi()) GTEST_SKIP() << "built without MPI (install libopenmpi-dev and rebuild)";
    if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not found (openmpi-bin)";
  }
  // `args` under mpirun with `ranks` processes of one thread each (run as root in CI).
  static std::string mpirun(int ranks, const std::string& args) {
    return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
           "timeout 120 mpirun -np " + std::to_string(ranks) + " -x ODEGAN_NUM_THREADS=1 " + args;
  }
  static std::string single(const std::string& args) { return "env ODEGAN_NUM_THREADS=1 timeout 120 " + args; }
};

// Every value of the players in a checkpoint, in name order, float64.
std::vector<double> players(const std::string& ckpt) {
  std::vector<double> out;
  for (auto& [name, t] : load_safetensors(ckpt))
    if (name.rfind("generator.", 0) == 0 || name.rfind("discriminator.", 0) == 0)
      for (double v : t.to(DType::f64).to_vector<double>()) out.push_back(v);
  return out;
}

// max |a - b| / max |b|.
double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return num / den;
}

std::vector<std::vector<double>> csv_rows(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<double>> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<double> r;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) r.push_back(std::strtod(cell.c_str(), nullptr));
    rows.push_back(r);
  }
  return rows;
}

const std::string kMog = " --device cpu --dtype float64 --batch 64 --eval-every 0 --eval-samples 64"
                         "";

TEST_F(DataParallel, TwoRanksWithHalfBatchesFollowTheSingleProcessTrajectory) {
  const std::string base = odegan::testing::temp_dir();
  std::string log;
  const std::string cmd = bin("odegan_mog") + kMog + " --steps 300 --checkpoint-every 100";
  ASSERT_EQ(run(single(cmd + " --out " + base + "/one"), &log), 0) << log;
  ASSERT_EQ(run(mpirun(2, cmd + " --out " + base + "/two"), &log), 0) << log;
  EXPECT_NE(log.find("data parallel: MPI (2 ranks"), std::string::npos) << log;
  // The state after 100, 200 and 300 RK4 + regulariser steps.
  for (const char* step : {"000000100", "000000200", "000000300"}) {
    const std::string ck = std::string("/checkpoints/ckpt-") + step + ".safetensors";
    const double rel = relative_difference(players(base + "/two" + ck), players(base + "/one" + ck));
    EXPECT_LE(rel, 1e-10) << "step " << step;
  }
  // Losses, gradient norms and the regulariser's norm of every step agree as closely (the
  // regulariser is the full batch's: a per-rank ||d l_G / d phi||^2 would differ here).
  const auto a = csv_rows(base + "/one/metrics.csv"), b = csv_rows(base + "/two/metrics.csv");
  ASSERT_EQ(a.size(), 300u);
  ASSERT_EQ(b.size(), 300u);
  for (size_t i = 0; i < a.size(); ++i)
    for (int col : {1, 2, 3, 4, 5})  // loss_d, loss_g, grad_norm_d, grad_norm_g, reg_norm
      ASSERT_NEAR(b[i][col], a[i][col], 1e-10 * std::max(1.0, std::fabs(a[i][col]))) << "step " << i + 1 << " column " << col;
  // Only rank 0 wrote: one TensorBoard file, one log.
  int events = 0;
  for (auto& e : fs::directory_iterator(base + "/two")) events += e.path().filename().string().rfind("events.", 0) == 0;
  EXPECT_EQ(events, 1);
}

// --bucket-mb: the gradients all-reduced bucket by bucket while the backward pass runs
// give the bits of one all-reduce after it (two ranks: each value is one sum of two), for
// the MoG (RK4 + regulariser) and the DCGAN with per-rank and with synchronised batch norm
// (whose own all-reduces run inside the backward pass, between the buckets).
TEST_F(DataParallel, OverlappedAllReducesGiveTheSameBits) {
  const std::string base = odegan::testing::temp_dir();
  std::string log;
  const std::string mog = bin("odegan_mog") + kMog + " --steps 40 --checkpoint-every 40";
  ASSERT_EQ(run(mpirun(2, mog + " --out " + base + "/mog"), &log), 0) << log;
  ASSERT_EQ(run(mpirun(2, mog + " --bucket-mb 0.001 --out " + base + "/mog-b"), &log), 0) << log;
  const std::string ck = "/checkpoints/ckpt-000000040.safetensors";
  EXPECT_EQ(players(base + "/mog-b" + ck), players(base + "/mog" + ck));
  const std::string dcgan = bin("odegan_cifar10") + " --data " + odegan::testing::write_tiny_cifar10(base + "/cifar") +
                            " --device cpu --width-mult 0.0625 --batch 4 --latent 8 --threads 0 --log-every 1"
                            " --sample-every 0 --checkpoint-every 3 --steps 3";
  for (const std::string bn : {"", " --sync-bn"}) {
    ASSERT_EQ(run(mpirun(2, dcgan + bn + " --out " + base + "/d"), &log), 0) << log;
    ASSERT_EQ(run(mpirun(2, dcgan + bn + " --bucket-mb 0.01 --out " + base + "/d-b"), &log), 0) << log;
    const std::string c3 = "/checkpoints/ckpt-000000003.safetensors";
    const auto a = players(base + "/d" + c3), b = players(base + "/d-b" + c3);
    ASSERT_FALSE(a.empty());
    EXPECT_EQ(a, b) << "batch norm:" << (bn.empty() ? " per rank" : bn);
    fs::remove_all(base + "/d");
    fs::remove_all(base + "/d-b");
  }
}

TEST_F(DataParallel, CheckpointsResumeOnAnotherNumberOfRanks) {
  const std::string base = odegan::testing::temp_dir();
  std::string log;
  const std::string cmd = bin("odegan_mog") + kMog + " --checkpoint-every 100";
  ASSERT_EQ(run(single(cmd + " --steps 200 --out " + base + "/straight"), &log), 0) << log;
  // 2 ranks, then 1.
  ASSERT_EQ(run(mpirun(2, cmd + " --steps 100 --out " + base + "/two-one")), 0);
  ASSERT_EQ(run(single(cmd + " --steps 200 --resume --out " + base + "/two-one"), &log), 0) << log;
  // 1 rank, then 2.
  ASSERT_EQ(run(single(cmd + " --steps 100 --out " + base + "/one-two")), 0);
  ASSERT_EQ(run(mpirun(2, cmd + " --steps 200 --resume --out " + base + "/one-two"), &log), 0) << log;
  EXPECT_NE(log.find("resuming"), std::string::npos) << log;
  const auto ref = players(base + "/straight/checkpoints/ckpt-000000200.safetensors");
  for (const char* dir : {"/two-one", "/one-two"}) {
    EXPECT_LE(relative_difference(players(base + dir + "/checkpoints/ckpt-000000200.safetensors"), ref), 1e-10) << dir;
    EXPECT_EQ(csv_rows(base + dir + "/metrics.csv").size(), 200u) << dir;
  }
}

TEST_F(DataParallel, AFailingRankEndsTheJobAtOnceNamingItself) {
  const std::string base = odegan::testing::temp_dir();
  const std::string cmd = bin("odegan_mog") + kMog + " --steps 100000 --checkpoint-every 20";
  for (const std::string kind : {"throw", "kill", "nan"}) {
    const std::string dir = base + "/" + kind;
    std::string log;
    const auto t0 = std::chrono::steady_clock::now();
    const int code = run("env ODEGAN_FAULT_RANK=1:50:" + kind + " " + mpirun(2, cmd + " --out " + dir), &log);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(code, 0) << kind << "\n" << log;
    EXPECT_NE(code, 124) << kind << ": the job hung until the timeout\n" << log;
    EXPECT_LT(s, 60) << kind;
    if (kind == "throw") {
      EXPECT_NE(log.find("error on rank 1 of 2: injected failure"), std::string::npos) << log;
    }
    if (kind == "nan") {
      EXPECT_NE(log.find("training diverged at step 50"), std::string::npos) << log;
    }
    // The checkpoints written before the failure are whole: the run resumes from step 40
    // on one rank.
    std::string resumed;
    EXPECT_EQ(run(single(bin("odegan_mog") + kMog + " --steps 60 --checkpoint-every 20 --resume --out " + dir), &resumed),
              0)
        << kind << "\n" << resumed;
    EXPECT_NE(resumed.find("resuming " + dir + " from step 40"), std::string::npos) << kind << "\n" << resumed;
  }
}

// With overlapped all-reduces the healthy rank waits on non-blocking requests, not in a
// blocking collective: the failing rank still ends the job at once.
TEST_F(DataParallel, AFailingRankEndsAnOverlappedJobToo) {
  const std::string dir = odegan::testing::temp_dir() + "/throw";
  std::string log;
  const auto t0 = std::chrono::steady_clock::now();
  const int code = run("env ODEGAN_FAULT_RANK=1:30:throw " +
                           mpirun(2, bin("odegan_mog") + kMog + " --bucket-mb 0.001 --steps 100000 --out " + dir),
                       &log);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(code, 124) << "the job hung until the timeout\n" << log;
  EXPECT_LT(s, 60);
  EXPECT_NE(log.find("error on rank 1 of 2: injected failure"), std::string::npos) << log;
}

TEST_F(DataParallel, ABatchThatDoesNotSplitIsAClearError) {
  std::string log;
  EXPECT_NE(run(mpirun(2, bin("odegan_mog") + " --device cpu --batch 63 --steps 2 --out " + odegan::testing::temp_dir() + "/x"),
                &log),
            0);
  EXPECT_NE(log.find("--batch 63 does not split into 2 equal shards"), std::string::npos) << log;
}

// The DCGAN (batch norm in G) with synchronised batch norm: 2 ranks x 2 images follow the
// single process's 4 images, RK4 + regulariser with fresh batches per stage, float64; with
// per-rank statistics they do not (a different, DDP-style algorithm).
TEST_F(DataParallel, SynchronisedBatchNormKeepsTheDcganOnTheSingleProcessTrajectory) {
  const std::string base = odegan::testing::temp_dir();
  const std::string cmd = bin("odegan_cifar10") + " --data " + odegan::testing::write_tiny_cifar10(base + "/cifar") +
                          " --device cpu --width-mult 0.03125 --batch 4 --latent 8 --threads 0 --log-every 1"
                          " --sample-every 0 --checkpoint-every 2 --dtype float64 --steps 4";
  std::string log;
  ASSERT_EQ(run(single(cmd + " --out " + base + "/one"), &log), 0) << log;
  ASSERT_EQ(run(mpirun(2, cmd + " --sync-bn --out " + base + "/sync"), &log), 0) << log;
  EXPECT_NE(log.find("batch norm synchronised (3 layers)"), std::string::npos) << log;
  ASSERT_EQ(run(mpirun(2, cmd + " --out " + base + "/per-rank"), &log), 0) << log;
  const std::string ck = "/checkpoints/ckpt-000000004.safetensors";
  const auto one = players(base + "/one" + ck);
  const double synced = relative_difference(players(base + "/sync" + ck), one);
  const double per_rank = relative_difference(players(base + "/per-rank" + ck), one);
  EXPECT_LE(synced, 1e-10);
  EXPECT_GT(per_rank, 1e-6) << "per-rank batch norm should not match the single process";
  // The running statistics too (buffers are in the checkpoint).
  std::vector<double> a, b;
  for (auto& [name, t] : load_safetensors(base + "/one" + ck))
    if (name.find("running_") != std::string::npos)
      for (double v : t.to(DType::f64).to_vector<double>()) a.push_back(v);
  for (auto& [name, t] : load_safetensors(base + "/sync" + ck))
    if (name.find("running_") != std::string::npos)
      for (double v : t.to(DType::f64).to_vector<double>()) b.push_back(v);
  ASSERT_FALSE(a.empty());
  EXPECT_LE(relative_difference(b, a), 1e-10);
}

// The image apps on 2 ranks: each loads its rows of every global batch; batch norm uses
// each rank's shard (per-replica statistics), so the trajectory is not the single
// process's (docs/architecture.md); it trains, rank 0 alone writes, and it resumes on 1 rank.
TEST_F(DataParallel, ImageAppsTrainOnTwoRanksAndResumeOnOne) {
  const std::string base = odegan::testing::temp_dir();
  const std::string cmd = bin("odegan_cifar10") + " --data " + odegan::testing::write_tiny_cifar10(base + "/cifar") +
                          " --device cpu --width-mult 0.03125 --batch 4 --latent 8 --threads 0 --log-every 1"
                          " --sample-every 2 --checkpoint-every 2 --dtype float64 --out " + base + "/img";
  std::string log;
  ASSERT_EQ(run(mpirun(2, cmd + " --steps 4"), &log), 0) << log;
  EXPECT_NE(log.find("data parallel: MPI (2 ranks"), std::string::npos) << log;
  EXPECT_NE(log.find("2 images per rank of each batch of 4"), std::string::npos) << log;
  int events = 0;
  for (auto& e : fs::directory_iterator(base + "/img")) events += e.path().filename().string().rfind("events.", 0) == 0;
  EXPECT_EQ(events, 1);
  ASSERT_EQ(run(single(cmd + " --steps 6 --resume"), &log), 0) << log;
  EXPECT_NE(log.find("resuming " + base + "/img from step 4"), std::string::npos) << log;
  std::ifstream in(base + "/img/metrics.jsonl");
  int lines = 0;
  for (std::string l; std::getline(in, l); ++lines) EXPECT_EQ(l.find("nan"), std::string::npos) << l;
  EXPECT_EQ(lines, 6);
  // A class-conditional ImageNet-layout run: labels of real and generated images sharded.
  const std::string folder = base + "/folder";
  for (int c = 0; c < 2; ++c) {
    fs::create_directories(folder + "/class" + std::to_string(c));
    for (int i = 0; i < 3; ++i) {
      std::ofstream out(folder + "/class" + std::to_string(c) + "/" + std::to_string(i) + ".bmp", std::ios::binary);
      const int w = 8, h = 8, row = w * 3;
      auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
      auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
      out.put('B'), out.put('M');
      u32(54 + row * h), u16(0), u16(0), u32(54), u32(40), u32(w), u32(h), u16(1), u16(24), u32(0), u32(row * h);
      u32(2835), u32(2835), u32(0), u32(0);
      for (int k = 0; k < row * h; ++k) out.put(static_cast<char>(k * 5 + c * 90 + i * 30));
    }
  }
  ASSERT_EQ(run(mpirun(2, bin("odegan_imagenet") + " --data " + folder +
                              " --device cpu --ch 2 --image-size 8 --batch 4 --latent 8 --threads 0 --steps 2"
                              " --sample-every 0 --checkpoint-every 2 --out " + base + "/imagenet"),
                &log),
            0)
      << log;
  EXPECT_TRUE(fs::exists(base + "/imagenet/checkpoints/ckpt-000000002.safetensors"));
}

}  // namespace
