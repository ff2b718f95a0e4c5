// The apps facing bad data: an image folder with unreadable files is reported at start
// (count and paths) and refused above --max-skipped-fraction; the loader benchmark
// removes its temporary folder when it fails.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace {
using ::odegan::testing::bin;
using ::odegan::testing::run;

namespace fs = std::filesystem;

// An uncompressed 24-bit BMP of w x h.
void write_bmp(const std::string& path, int w, int h, int seed) {
  const int row = (w * 3 + 3) / 4 * 4;
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  out.put('B'), out.put('M');
  u32(54 + row * h), u16(0), u16(0), u32(54), u32(40), u32(w), u32(h), u16(1), u16(24), u32(0), u32(row * h);
  u32(2835), u32(2835), u32(0), u32(0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < row; ++x) out.put(static_cast<char>(x < w * 3 ? (x * 20 + y * 7 + seed * 50) % 256 : 0));
}

TEST(DataErrorsApp, UnreadableImagesAreReportedAndLimitedByAFlag) {
  const std::string root = odegan::testing::temp_dir() + "/folder";
  for (int c = 0; c < 2; ++c) {
    fs::create_directories(root + "/class" + std::to_string(c));
    for (int i = 0; i < 3; ++i) write_bmp(root + "/class" + std::to_string(c) + "/img" + std::to_string(i) + ".bmp", 8, 8, i);
  }
  std::ofstream(root + "/class1/garbage.jpg") << "not an image";
  const std::string cmd = bin("odegan_imagenet") + " --data " + root + " --device cpu --image-size 8 --ch 2 --batch 2"
                          " --latent 4 --steps 1 --threads 1 --log-every 1 --sample-every 1 --out " +
                          odegan::testing::temp_dir() + "/run";
  std::string log;
  // 1 of 7 files unreadable: above the default limit, an error naming the file and the flag.
  EXPECT_NE(run(cmd, &log), 0) << log;
  EXPECT_NE(log.find("skipped 1 of 7"), std::string::npos) << log;
  EXPECT_NE(log.find(root + "/class1/garbage.jpg"), std::string::npos) << log;
  EXPECT_NE(log.find("--max-skipped-fraction"), std::string::npos) << log;
  // Tolerated with the flag, and still reported at start.
  ASSERT_EQ(run(cmd + " --max-skipped-fraction 0.2", &log), 0) << log;
  EXPECT_NE(log.find("skipped 1 of 7 image files"), std::string::npos) << log;
  EXPECT_NE(run(cmd + " --max-skipped-fraction 2", &log), 0) << log;
  EXPECT_NE(log.find("--max-skipped-fraction"), std::string::npos) << log;
}

TEST(DataErrorsApp, LoaderBenchmarkRemovesItsTemporaryFolderOnErrors) {
  const std::string tmp = odegan::testing::temp_dir() + "/tmpdir";
  fs::create_directories(tmp);
  std::string log;
  // Two images for four class folders: a class is empty, which fails after the folder exists.
  EXPECT_NE(run("TMPDIR=" + tmp + " " + bin("odegan_bench_loader") + " --images 2 --batch 1 --size 8", &log), 0) << log;
  EXPECT_NE(log.find("has no images"), std::string::npos) << log;
  EXPECT_TRUE(fs::is_empty(tmp)) << "left behind: " << fs::directory_iterator(tmp)->path();
}

}  // namespace
