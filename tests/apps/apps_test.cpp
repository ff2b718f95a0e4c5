// The programs end to end at tiny sizes: files written, JSON fields present, resumption
// bit-identical to an uninterrupted run, bad flags rejected with a clear message. The
// training runs are device-typed: with --device cuda where a GPU exists (deterministic
// mode on, so that resuming is bit-identical there too).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/safetensors.h"
#include "tests/common/device_test.h"
#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace {
using ::odegan::testing::bin;
using ::odegan::testing::run;

namespace fs = std::filesystem;
using nlohmann::json;

// Every tensor of a checkpoint (name, values in float64), for bitwise comparisons.
std::vector<std::pair<std::string, std::vector<double>>> checkpoint_values(const std::string& path) {
  std::vector<std::pair<std::string, std::vector<double>>> out;
  for (auto& [name, t] : odegan::load_safetensors(path))
    out.emplace_back(name, t.to(odegan::DType::f64).to_vector<double>());
  return out;
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

// The app flags for the test's device; CUDA runs in deterministic mode (cuDNN algorithms
// fixed, no atomics) so that two runs give the same bits.
class AppOnDevice : public odegan::testing::DeviceTest {
 protected:
  std::string dev() const { return on_cuda() ? "cuda" : "cpu"; }
  std::string app(const std::string& name) const {
    return (on_cuda() ? "ODEGAN_DETERMINISTIC=1 " : "") + bin(name);
  }
};
INSTANTIATE_TEST_SUITE_P(Devices, AppOnDevice, ::testing::ValuesIn(odegan::testing::device_cases({odegan::DType::f32})),
                         [](const auto& p) { return p.param.device.is_cuda() ? std::string("cuda") : std::string("cpu"); });

TEST_P(AppOnDevice, MogShortRunWritesEverythingAndResumesBitExactly) {
  const std::string base = odegan::testing::temp_dir();
  const std::string flags = " --device " + dev() + " --steps 40 --eval-every 20 --eval-samples 200 --batch 64 --figure-steps 0,20,30,40";
  std::string log;
  // Uninterrupted run.
  ASSERT_EQ(run(app("odegan_mog") + flags + " --out " + base + "/full --checkpoint-every 20", &log), 0) << log;
  for (const char* f : {"config.json", "metrics.json", "metrics.csv", "mog.png", "losses.png", "checkpoints/latest"})
    EXPECT_TRUE(fs::exists(base + "/full/" + f)) << f;
  json m = read_json(base + "/full/metrics.json");
  for (const char* k : {"method", "steps", "modes_covered", "hq_fraction", "loss_d", "loss_g", "ms_per_step"})
    EXPECT_TRUE(m.contains(k)) << k;
  EXPECT_EQ(m["method"], "rk4");
  EXPECT_EQ(m["steps"], 40);
  EXPECT_TRUE(std::isfinite(m["loss_d"].get<double>()));
  // Interrupted at step 20 (a shorter run), then resumed to 40.
  ASSERT_EQ(run(app("odegan_mog") + " --device " + dev() + " --steps 20 --eval-every 20 --eval-samples 200 --batch 64 "
                                    "--figure-steps 0,20 --checkpoint-every 20 --out " + base + "/part", &log), 0)
      << log;
  ASSERT_EQ(run(app("odegan_mog") + flags + " --out " + base + "/part --checkpoint-every 20 --resume", &log), 0) << log;
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
  EXPECT_NE(log.find("unknown method 'rk9'"), std::string::npos) << log;
  EXPECT_NE(log.find("trapezoid"), std::string::npos) << log;  // the error lists the registry's names
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

// ---------------------------------------------------------------- image apps

std::string tiny_cifar_dir() { return odegan::testing::write_tiny_cifar10(odegan::testing::temp_dir() + "/cifar"); }

TEST_P(AppOnDevice, Cifar10TinyRunWritesTheRunDirectoryAndResumesBitExactly) {
  const std::string data = tiny_cifar_dir(), base = odegan::testing::temp_dir();
  const std::string common = " --data " + data + " --device " + dev() + " --width-mult 0.03125 --batch 4 --latent 8 --threads 1"
                             " --log-every 1 --sample-every 2 --checkpoint-every 2";
  std::string log;
  ASSERT_EQ(run(app("odegan_cifar10") + common + " --steps 4 --out " + base + "/full", &log), 0) << log;
  for (const char* f : {"config.json", "metrics.jsonl", "metrics.csv", "losses.png", "samples/latest.png",
                        "samples/step-000000002.png", "checkpoints/latest"})
    EXPECT_TRUE(fs::exists(base + "/full/" + f)) << f;
  std::ifstream jl(base + "/full/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(jl, line)) {
    json j = json::parse(line);
    EXPECT_TRUE(std::isfinite(j["loss_d"].get<double>()));
    EXPECT_TRUE(j.contains("images_per_s") && j.contains("nash_loss_d") && j.contains("grad_norm_g"));
    ++lines;
  }
  EXPECT_EQ(lines, 4);
  // Interrupted after 2 steps, resumed to 4: the same losses and the same final state.
  ASSERT_EQ(run(app("odegan_cifar10") + common + " --steps 2 --out " + base + "/part", &log), 0) << log;
  ASSERT_EQ(run(app("odegan_cifar10") + common + " --steps 4 --resume --out " + base + "/part", &log), 0) << log;
  auto losses = [&](const std::string& dir) {
    std::ifstream in(dir + "/metrics.jsonl");
    std::vector<double> v;
    for (std::string l; std::getline(in, l);) {
      json j = json::parse(l);
      v.push_back(j["loss_d"]);
      v.push_back(j["loss_g"]);
    }
    return v;
  };
  EXPECT_EQ(losses(base + "/full"), losses(base + "/part"));
  // The final parameters (and batch-norm statistics) are bitwise the same.
  auto tensors = [](const std::string& path) {
    std::vector<float> all;
    for (auto& [name, t] : odegan::load_safetensors(path))
      if (name.rfind("generator.", 0) == 0 || name.rfind("discriminator.", 0) == 0)
        for (float v : t.to_vector<float>()) all.push_back(v);
    return all;
  };
  EXPECT_TRUE(tensors(base + "/full/checkpoints/ckpt-000000004.safetensors") ==
              tensors(base + "/part/checkpoints/ckpt-000000004.safetensors"));
  // The sample app reads the run.
  ASSERT_EQ(run(app("odegan_sample") + " --run " + base + "/full --device " + dev() + " --n 3 --out " + base + "/eval", &log), 0)
      << log;
  EXPECT_TRUE(fs::exists(base + "/eval/grid.png"));
  EXPECT_TRUE(fs::exists(base + "/eval/images/000002.png"));
}

TEST(Cifar10App, MethodsAndArchitecturesRun) {
  const std::string data = tiny_cifar_dir(), base = odegan::testing::temp_dir();
  const std::string common = " --data " + data + " --device cpu --batch 4 --latent 8 --threads 0 --steps 2"
                             " --log-every 1 --sample-every 0 --checkpoint-every 0";
  std::string log;
  for (const std::string& extra : {std::string(" --method euler --lambda 0"), std::string(" --method rk2_adam --h 1e-3"),
                                   std::string(" --method adam"), std::string(" --method fehlberg --error-every 1"),
                                   std::string(" --arch resnet --width-mult 0.03125 --method sngan --n-dis 2"),
                                   std::string(" --method sngan --n-dis 2"),
                                   std::string(" --arch dcgan --width-mult 0.03125 --logits 2 --loss hinge")}) {
    const std::string args = extra.find("--arch") == std::string::npos ? extra + " --width-mult 0.03125" : extra;
    EXPECT_EQ(run(bin("odegan_cifar10") + common + args + " --out " + base + "/m", &log), 0) << args << "\n" << log;
  }
}

// The stepper registry's methods in the image app: each logs what its solver did (implicit:
// iterations and convergence; adaptive: the accepted h and rejections), and methods with
// state (AB3's history, SN-GAN's two Adams) resume bit for bit.
TEST(Cifar10App, EveryStepperRunsLogsItsSolverAndResumesBitExactly) {
  const std::string data = tiny_cifar_dir(), base = odegan::testing::temp_dir() + "/steppers";
  const std::string common = " --data " + data + " --device cpu --batch 4 --latent 8 --threads 0 --width-mult 0.03125"
                             " --log-every 1 --sample-every 0 --checkpoint-every 2 --n-dis 2";
  std::string log;
  auto lines = [](const std::string& dir) {
    std::vector<json> v;
    std::ifstream in(dir + "/metrics.jsonl");
    for (std::string l; std::getline(in, l);) v.push_back(json::parse(l));
    return v;
  };
  for (const std::string m : {"ab2", "ab3", "implicit_midpoint", "trapezoid", "symplectic_euler", "extragradient",
                              "adaptive_bs32", "sngan"}) {
    const std::string dir = base + "/" + m;
    ASSERT_EQ(run(bin("odegan_cifar10") + common + " --method " + m + " --steps 4 --out " + dir, &log), 0)
        << m << "\n" << log;
    const std::vector<json> got = lines(dir);
    ASSERT_EQ(got.size(), 4u) << m;
    for (const json& j : got) {
      EXPECT_TRUE(std::isfinite(j["loss_d"].get<double>())) << m;
      const bool implicit = m == "implicit_midpoint" || m == "trapezoid";
      EXPECT_EQ(j.contains("iterations"), implicit) << m;
      if (implicit) {
        EXPECT_GE(j["iterations"].get<int>(), 1) << m;
      }
      EXPECT_EQ(j.contains("rejected"), m == "adaptive_bs32") << m;
    }
    if (m == "adaptive_bs32") {
      EXPECT_GE(got[0]["error"].get<double>(), 0.0);
      EXPECT_NE(got[1]["h"].get<double>(), got[0]["h"].get<double>());  // the controller moved h
    }
    if (m == "ab3" || m == "sngan" || m == "adaptive_bs32") {
      ASSERT_EQ(run(bin("odegan_cifar10") + common + " --method " + m + " --steps 2 --out " + dir + "-part", &log), 0)
          << log;
      ASSERT_EQ(run(bin("odegan_cifar10") + common + " --method " + m + " --steps 4 --resume --out " + dir + "-part",
                    &log), 0)
          << m << "\n" << log;
      const std::vector<json> part = lines(dir + "-part");
      ASSERT_EQ(part.size(), 4u) << m;
      for (size_t i = 0; i < 4; ++i)
        EXPECT_EQ(part[i]["loss_d"], got[i]["loss_d"]) << m << " step " << i + 1;
      EXPECT_TRUE(checkpoint_values(dir + "/checkpoints/ckpt-000000004.safetensors") ==
                  checkpoint_values(dir + "-part/checkpoints/ckpt-000000004.safetensors"))
          << m;
    }
  }
}

TEST(Cifar10App, RealFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::string out = odegan::testing::temp_dir() + "/fmnist";
  std::string log;
  ASSERT_EQ(run(bin("odegan_cifar10") + " --data " + dir + " --format idx --device cpu --width-mult 0.03125 --batch 8"
                " --latent 16 --steps 3 --log-every 1 --out " + out, &log), 0) << log;
  EXPECT_NE(log.find("60000 images"), std::string::npos) << log;
  json cfg = read_json(out + "/config.json");
  EXPECT_EQ(cfg["channels"], 1);
}

TEST_P(AppOnDevice, ImagenetTinyConditionalRunOnAnImageFolder) {
  const std::string root = odegan::testing::temp_dir() + "/folder";
  for (int c = 0; c < 3; ++c) {
    fs::create_directories(root + "/class" + std::to_string(c));
    for (int i = 0; i < 3; ++i) {
      // 12x10 RGB PPM-free: write a PNG through the app-independent stb in the library? Use
      // a tiny BMP written by hand (uncompressed 24-bit).
      const int w = 12, h = 10, row = (w * 3 + 3) / 4 * 4;
      std::ofstream out(root + "/class" + std::to_string(c) + "/img" + std::to_string(i) + ".bmp", std::ios::binary);
      auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
      auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
      out.put('B'), out.put('M');
      u32(54 + row * h), u16(0), u16(0), u32(54), u32(40), u32(w), u32(h), u16(1), u16(24), u32(0), u32(row * h);
      u32(2835), u32(2835), u32(0), u32(0);
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) out.put(static_cast<char>(x * 20 + c * 60)), out.put(static_cast<char>(y * 25)), out.put(static_cast<char>(i * 80));
        for (int p = w * 3; p < row; ++p) out.put(0);
      }
    }
  }
  const std::string out = odegan::testing::temp_dir() + "/imagenet";
  std::string log;
  ASSERT_EQ(run(app("odegan_imagenet") + " --data " + root + " --device " + dev() + " --image-size 8 --ch 2 --batch 3"
                " --latent 8 --steps 3 --threads 2 --log-every 1 --sample-every 3 --out " + out, &log), 0) << log;
  EXPECT_NE(log.find("class-conditional"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(out + "/samples/latest.png"));
  json cfg = read_json(out + "/config.json");
  EXPECT_EQ(cfg["num_classes"], 3);
  ASSERT_EQ(run(app("odegan_sample") + " --run " + out + " --device " + dev() + " --out " + out + "/eval", &log), 0) << log;
  // A missing dataset is a clear error.
  EXPECT_NE(run(bin("odegan_imagenet") + " --data " + root + "/nope --steps 1 --out " + out + "/x", &log), 0);
  EXPECT_NE(log.find("is not a directory"), std::string::npos) << log;
}

}  // namespace
