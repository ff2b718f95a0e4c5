// The programs end to end at tiny sizes: files written, JSON fields present, resumption
// bit-identical to an uninterrupted run, bad flags rejected with a clear message.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/common/test_util.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string bin(const std::string& name) {
  const char* dir = std::getenv("ODEGAN_BIN_DIR");
  return std::string(dir ? dir : "bin") + "/" + name;
}

// Runs a command, returning its exit code and combined output.
int run(const std::string& cmd, std::string* output = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = pclose(p);
  if (output) *output = out;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ToyApp, WritesResultsAndReproducesFigureOne) {
  const std::string out = odegan::testing::temp_dir() + "/toy";
  std::string log;
  ASSERT_EQ(run(bin("odegan_toy") + " --out " + out, &log), 0) << log;
  for (const char* f : {"toy.json", "trajectories.csv", "toy.png"}) EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  json j = read_json(out + "/toy.json");
  EXPECT_FALSE(j["methods"]["euler"]["converges"].get<bool>());
  EXPECT_TRUE(j["methods"]["rk2"]["converges"].get<bool>());
  EXPECT_TRUE(j["methods"]["rk4"]["converges"].get<bool>());
  EXPECT_LT(j["methods"]["rk4"]["final_distance_to_nash"].get<double>(), 0.3);
  EXPECT_GT(j["methods"]["euler"]["final_distance_to_nash"].get<double>(), 5.0);
}

TEST(MogApp, ShortRunWritesEverythingAndResumesBitExactly) {
  const std::string base = odegan::testing::temp_dir();
  const std::string flags = " --device cpu --steps 40 --eval-every 20 --eval-samples 200 --batch 64 --figure-steps 0,20,30,40";
  std::string log;
  // Uninterrupted run.
  ASSERT_EQ(run(bin("odegan_mog") + flags + " --out " + base + "/full --checkpoint-every 20", &log), 0) << log;
  for (const char* f : {"config.json", "metrics.json", "metrics.csv", "mog.png", "losses.png", "checkpoints/latest"})
    EXPECT_TRUE(fs::exists(base + "/full/" + f)) << f;
  json m = read_json(base + "/full/metrics.json");
  for (const char* k : {"method", "steps", "modes_covered", "hq_fraction", "loss_d", "loss_g", "ms_per_step"})
    EXPECT_TRUE(m.contains(k)) << k;
  EXPECT_EQ(m["method"], "rk4");
  EXPECT_EQ(m["steps"], 40);
  EXPECT_TRUE(std::isfinite(m["loss_d"].get<double>()));
  // Interrupted at step 20 (a shorter run), then resumed to 40.
  ASSERT_EQ(run(bin("odegan_mog") + " --device cpu --steps 20 --eval-every 20 --eval-samples 200 --batch 64 "
                                    "--figure-steps 0,20 --checkpoint-every 20 --out " + base + "/part", &log), 0)
      << log;
  ASSERT_EQ(run(bin("odegan_mog") + flags + " --out " + base + "/part --checkpoint-every 20 --resume", &log), 0) << log;
  EXPECT_NE(log.find("resuming"), std::string::npos) << log;
  // Same losses at every step, and the same final parameters.
  std::string a = read_file(base + "/full/metrics.csv"), b = read_file(base + "/part/metrics.csv");
  auto strip_ms = [](const std::string& csv) {  // the wall-clock column differs
    std::stringstream in(csv), out;
    std::string line;
    while (std::getline(in, line)) {
      std::stringstream cells(line);
      std::string cell;
      int k = 0;
      while (std::getline(cells, cell, ',')) {
        if (k != 8) out << cell << ",";
        ++k;
      }
      out << "\n";
    }
    return out.str();
  };
  EXPECT_EQ(strip_ms(a), strip_ms(b));
  EXPECT_EQ(read_json(base + "/full/metrics.json")["loss_d"], read_json(base + "/part/metrics.json")["loss_d"]);
}

TEST(MogApp, BadFlagsAndDivergenceAreClearErrors) {
  const std::string out = odegan::testing::temp_dir() + "/bad";
  std::string log;
  EXPECT_NE(run(bin("odegan_mog") + " --method rk9 --steps 1 --out " + out, &log), 0);
  EXPECT_NE(log.find("unknown ODE method 'rk9'"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_mog") + " --device tpu --steps 1 --out " + out, &log), 0);
  EXPECT_NE(log.find("bad device 'tpu'"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_mog") + " --steps abc --out " + out, &log), 0);
  // A huge step makes Euler blow up: the run stops, says so, keeps the last checkpoint.
  const int rc = run(bin("odegan_mog") + " --device cpu --method euler --h 1e30 --lambda 0 --steps 50 --batch 32 "
                                         "--eval-every 0 --checkpoint-every 1 --out " + out, &log);
  EXPECT_NE(rc, 0);
  EXPECT_NE(log.find("diverged"), std::string::npos) << log;
  EXPECT_NE(log.find("last good checkpoint"), std::string::npos) << log;
}

}  // namespace
