// odegan_fid end to end on tiny data with random Inception weights (--random-inception-seed,
// a test-only flag): a dataset against itself gives FID ~0, noise gives a large FID,
// --save-stats round-trips through --ref, a run's generator is measured, and bad flags or
// files are clear errors. Few images: Inception runs at 299x299 on the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/common/quality.h"
#include "core/rng.h"
#include "data/image.h"
#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace {
using ::odegan::testing::bin;
using ::odegan::testing::run;

namespace fs = std::filesystem;
using nlohmann::json;
using namespace odegan;

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// 20 CIFAR-10 records of smooth, varied patterns.
std::string tiny_cifar(const std::string& dir) {
  fs::create_directories(dir);
  for (int f = 1; f <= 5; ++f) {
    std::ofstream out(dir + "/data_batch_" + std::to_string(f) + ".bin", std::ios::binary);
    for (int r = 0; r < 4; ++r) {
      out.put(static_cast<char>(r));
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 32; ++y)
          for (int x = 0; x < 32; ++x)
            out.put(static_cast<char>(127 + 120 * std::sin(0.1 * (f + 1) * x + 0.3 * r * y + c)));
    }
  }
  return dir;
}

// n PNG files of uniform noise.
std::string noise_folder(const std::string& dir, int n) {
  fs::create_directories(dir);
  Generator gen(5);
  for (int i = 0; i < n; ++i) {
    Tensor t = Tensor::empty({1, 3, 32, 32});
    fill_uniform(t, gen, -1.0, 1.0);
    data::write_png(dir + "/noise" + std::to_string(i) + ".png", data::images_from_tensor(t)[0]);
  }
  return dir;
}

// 4 images per set (Inception at 299x299 costs about a second per image on a busy CPU).
const std::string kFlags = " --device cpu --random-inception-seed 1 --n 4 --splits 2 --batch 4";

double trace(const app::Stats& s) {
  double t = 0;
  for (int64_t i = 0; i < s.dim; ++i) t += s.sigma[static_cast<size_t>(i * s.dim + i)];
  return t;
}

TEST(FidApp, DatasetAgainstItselfIsZeroNoiseIsLargeAndStatsRoundTrip) {
  const std::string base = odegan::testing::temp_dir();
  const std::string data = tiny_cifar(base + "/cifar");
  std::string log;
  // 4 dataset images against the same 4 as a dataset reference: FID ~0; statistics saved.
  ASSERT_EQ(run(bin("odegan_fid") + kFlags + " --data " + data + " --ref " + data + " --ref-n 4 --save-stats " + base +
                    "/data.safetensors --json " + base + "/self.json",
                &log),
            0)
      << log;
  const app::Stats data_stats = app::load_stats(base + "/data.safetensors");
  EXPECT_EQ(data_stats.count, 4);
  EXPECT_EQ(data_stats.dim, 2048);
  json self = read_json(base + "/self.json");
  EXPECT_EQ(self["n"], 4);
  EXPECT_EQ(self["ref_n"], 4);
  EXPECT_EQ(self["features"], "inception-pool3");
  EXPECT_LT(std::abs(self["fid"].get<double>()), 1e-6 * trace(data_stats)) << self.dump();
  ASSERT_TRUE(self.contains("is_mean"));
  EXPECT_GE(self["is_mean"].get<double>(), 1.0);  // exp of a mean KL >= 0
  EXPECT_NE(log.find("images/s"), std::string::npos) << log;
  EXPECT_NE(log.find("FID "), std::string::npos) << log;
  EXPECT_NE(log.find("\"fid\":"), std::string::npos) << log;  // the JSON line on stdout
  // Noise images against the saved statistics (read back through --ref): far larger.
  ASSERT_EQ(run(bin("odegan_fid") + kFlags + " --images " + noise_folder(base + "/noise", 4) + " --ref " + base +
                    "/data.safetensors --save-stats " + base + "/noise.safetensors --json " + base + "/noise.json",
                &log),
            0)
      << log;
  json noise = read_json(base + "/noise.json");
  const double fid = noise["fid"];
  EXPECT_GT(fid, 1e-2 * trace(data_stats)) << fid << " vs trace " << trace(data_stats);
  EXPECT_FALSE(noise.contains("ref_seconds"));  // the reference was a file, not measured
  // Both saved files give back the app's number.
  const double again = app::frechet_distance(app::load_stats(base + "/noise.safetensors"), data_stats);
  EXPECT_NEAR(again, fid, 1e-9 * fid);
}

TEST(FidApp, DatasetReferenceAndARunsGenerator) {
  const std::string base = odegan::testing::temp_dir();
  const std::string data = tiny_cifar(base + "/cifar");
  std::string log;
  ASSERT_EQ(run(bin("odegan_cifar10") + " --data " + data +
                    " --device cpu --width-mult 0.03125 --batch 4 --latent 8 --threads 1 --steps 2 --log-every 1"
                    " --sample-every 0 --checkpoint-every 2 --out " + base + "/run",
                &log),
            0)
      << log;
  ASSERT_EQ(run(bin("odegan_fid") + kFlags + " --run " + base + "/run --ref " + data + " --ref-n 4 --json " + base +
                    "/g.json",
                &log),
            0)
      << log;
  json g = read_json(base + "/g.json");
  EXPECT_EQ(g["n"], 4);
  EXPECT_EQ(g["ref_n"], 4);
  EXPECT_NE(g["source"].get<std::string>().find("ckpt-000000002"), std::string::npos) << g.dump();
  EXPECT_TRUE(std::isfinite(g["fid"].get<double>()));
  EXPECT_GT(g["fid"].get<double>(), 0.0);
}

TEST(FidApp, BadFlagsAndFilesAreClearErrors) {
  const std::string base = odegan::testing::temp_dir();
  const std::string data = tiny_cifar(base + "/cifar");
  std::string log;
  EXPECT_NE(run(bin("odegan_fid") + kFlags, &log), 0);
  EXPECT_NE(log.find("exactly one of --run, --images or --data"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_fid") + kFlags + " --data " + data + " --images " + base, &log), 0);
  EXPECT_NE(log.find("exactly one of"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_fid") + kFlags + " --data " + data + " --ref " + base + "/missing.npz", &log), 0);
  EXPECT_NE(log.find(base + "/missing.npz: cannot open statistics file"), std::string::npos) << log;
  std::ofstream(base + "/bad.npz") << "not a zip";
  EXPECT_NE(run(bin("odegan_fid") + kFlags + " --data " + data + " --ref " + base + "/bad.npz", &log), 0);
  EXPECT_NE(log.find(base + "/bad.npz: cannot read as a .npz"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_fid") + " --device cpu --data " + data, &log), 0);
  EXPECT_NE(log.find("scripts/convert_inception.py"), std::string::npos) << log;
  std::ofstream(base + "/inception.safetensors") << "garbage";
  EXPECT_NE(run(bin("odegan_fid") + " --device cpu --data " + data + " --inception " + base + "/inception.safetensors",
                &log),
            0);
  EXPECT_NE(log.find(base + "/inception.safetensors"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_fid") + kFlags + " --data " + data + " --format jpeg", &log), 0);
  EXPECT_NE(log.find("--format 'jpeg': expected cifar10, idx or folder"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_fid") + " --device cpu --random-inception-seed 1 --data " + data + " --n 1", &log), 0);
  EXPECT_NE(log.find("--n must be >= 2"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_fid") + kFlags + " --run " + base + "/nope", &log), 0);
  EXPECT_NE(log.find("no config.json"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_fid") + kFlags + " --images " + base + "/cifar", &log), 0);  // holds .bin files only
  EXPECT_NE(log.find("holds no image files"), std::string::npos) << log;
}

}  // namespace
