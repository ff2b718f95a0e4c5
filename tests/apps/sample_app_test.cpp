// odegan_sample on a tiny trained run: each written image is exactly one generator output
// (its size, its pixels), the grid's cells are the same pixels, and a wrong --run leaves
// nothing behind.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "apps/common/run_generator.h"
#include "data/image.h"
#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace {
using ::odegan::testing::bin;
using ::odegan::testing::run;

namespace fs = std::filesystem;
using namespace odegan;

std::string tiny_cifar(const std::string& dir) { return ::odegan::testing::write_tiny_cifar10(dir); }

// Pixel value (0..255) the PNG writer stores for a pixel of data::images_from_tensor.
int stored(float v) { return static_cast<int>(std::lround(std::clamp(v, 0.f, 255.f))); }

TEST(SampleApp, IndividualImagesAreExactlyTheGeneratorOutputs) {
  const std::string base = odegan::testing::temp_dir();
  std::string log;
  ASSERT_EQ(run(bin("odegan_cifar10") + " --data " + tiny_cifar(base + "/cifar") +
                    " --device cpu --width-mult 0.03125 --batch 4 --latent 8 --threads 1 --steps 2 --log-every 1"
                    " --sample-every 0 --checkpoint-every 2 --out " + base + "/run",
                &log),
            0)
      << log;
  const int cols = 2, n = 5;
  ASSERT_EQ(run(bin("odegan_sample") + " --run " + base + "/run --device cpu --seed 3 --cols 2 --n 5 --out " + base +
                    "/eval",
                &log),
            0)
      << log;
  // The same draws in-process: the grid's cols^2 images first, then the n individual ones.
  const app::RunGenerator g = app::load_run_generator(base + "/run", "cpu");
  Generator noise(3);
  const std::vector<data::Image> grid_want = data::images_from_tensor(g.sample(cols * cols, 0, noise));
  const Tensor outputs = g.sample(n, 0, noise);
  ASSERT_EQ(outputs.shape(), Shape({n, 3, 32, 32}));
  const std::vector<data::Image> want = data::images_from_tensor(outputs);
  for (int i = 0; i < n; ++i) {
    const std::string path = base + "/eval/images/00000" + std::to_string(i) + ".png";
    const data::Image got = data::decode_image(path, 3);
    ASSERT_EQ(got.height, 32) << path;  // not 36: no grid border
    ASSERT_EQ(got.width, 32) << path;
    int mismatched = 0;
    for (size_t k = 0; k < got.px.size(); ++k) mismatched += stored(want[static_cast<size_t>(i)].px[k]) != got.px[k];
    EXPECT_EQ(mismatched, 0) << path;
  }
  // The grid: 2-pixel borders around cells holding the same pixels.
  const data::Image grid = data::decode_image(base + "/eval/grid.png", 3);
  ASSERT_EQ(grid.height, cols * (32 + 2) + 2);
  int mismatched = 0;
  for (int k = 0; k < cols * cols; ++k)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x)
        for (int c = 0; c < 3; ++c)
          mismatched += stored(grid_want[static_cast<size_t>(k)].at(y, x, c)) !=
                        grid.at(2 + (k / cols) * 34 + y, 2 + (k % cols) * 34 + x, c);
  EXPECT_EQ(mismatched, 0);
  EXPECT_EQ(grid.at(0, 0, 0), 255.f);  // border
}

TEST(SampleApp, AWrongRunIsAClearErrorAndCreatesNothing) {
  const std::string run_dir = odegan::testing::temp_dir() + "/not-a-run";
  fs::create_directories(run_dir);
  std::string log;
  EXPECT_NE(run(bin("odegan_sample") + " --run " + run_dir + " --device cpu", &log), 0);
  EXPECT_NE(log.find(run_dir + ": no config.json"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(run_dir + "/sampled"));
}

}  // namespace
