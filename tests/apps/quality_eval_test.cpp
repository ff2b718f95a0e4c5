// The FD-FMNIST yardstick end to end at tiny sizes: odegan_classifier trains and writes
// weights, ClassifierFeatures reads them, and --eval-every in odegan_cifar10 logs "fd" to
// metrics.jsonl and keeps best / final in quality.json (across a resume); bad flags are
// clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/common/classifier_features.h"
#include "apps/common/quality_eval.h"
#include "core/safetensors.h"
#include "layers/models/inception.h"
#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace {
using ::odegan::testing::bin;
using ::odegan::testing::run;

namespace fs = std::filesystem;
using nlohmann::json;

void put_be32(std::ofstream& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.put(static_cast<char>((v >> s) & 0xFF));
}

// A raw IDX directory with n 28x28 images per split: class 0 has a bright square on the
// left, class 1 on the right (learnable), on a noisy dark background.
std::string tiny_idx_dir(int n) {
  const std::string dir = odegan::testing::temp_dir() + "/idx";
  fs::create_directories(dir);
  for (const char* split : {"train", "t10k"}) {
    std::ofstream img(dir + "/" + split + "-images-idx3-ubyte", std::ios::binary);
    std::ofstream lab(dir + "/" + split + "-labels-idx1-ubyte", std::ios::binary);
    put_be32(img, 0x803), put_be32(img, static_cast<uint32_t>(n)), put_be32(img, 28), put_be32(img, 28);
    put_be32(lab, 0x801), put_be32(lab, static_cast<uint32_t>(n));
    for (int i = 0; i < n; ++i) {
      const int c = i % 2, x0 = c ? 17 : 3, y0 = 6 + (i * 7) % 12;
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
          const bool on = x >= x0 && x < x0 + 8 && y >= y0 && y < y0 + 8;
          img.put(static_cast<char>(on ? 230 : (i * 13 + x * 7 + y * 3) % 40));
        }
      lab.put(static_cast<char>(c));
    }
  }
  return dir;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

TEST(ClassifierApp, TrainsWritesWeightsAndTheExtractorReadsThem) {
  const std::string data = tiny_idx_dir(64), base = odegan::testing::temp_dir();
  std::string log;
  ASSERT_EQ(run(bin("odegan_classifier") + " --data " + data + " --out " + base + "/w.safetensors --epochs 8 --batch 16"
                " --lr 3e-3 --threads 0 --device cpu --json " + base + "/acc.json", &log), 0) << log;
  EXPECT_NE(log.find("test accuracy"), std::string::npos) << log;
  const json acc = read_json(base + "/acc.json");
  EXPECT_EQ(acc["test_images"], 64);
  EXPECT_GT(acc["test_accuracy"].get<double>(), 0.8) << log;  // two separable classes
  odegan::app::ClassifierFeatures f(base + "/w.safetensors", odegan::Device::cpu(), 7);
  EXPECT_EQ(f.batch_size(), 7);
  EXPECT_EQ(f.name(), "fmnist-classifier");
  odegan::Tensor x = odegan::testing::random_tensor({3, 1, 32, 32}, odegan::DType::f32, 1), feats, logits;
  f.extract(x, feats, logits);
  EXPECT_EQ(feats.shape(), odegan::Shape({3, 128}));
  EXPECT_EQ(logits.shape(), odegan::Shape({3, 10}));
  for (float v : feats.to_vector<float>()) EXPECT_GE(v, 0.f);  // ReLU features
  EXPECT_THROW(f.extract(odegan::Tensor::zeros({2, 3, 32, 32}), feats, logits), odegan::Error);
  // Missing and wrong weight files are errors naming the file.
  try {
    odegan::app::ClassifierFeatures bad(base + "/acc.json", odegan::Device::cpu());
    ADD_FAILURE() << "a JSON file was accepted as weights";
  } catch (const odegan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("acc.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(odegan::app::ClassifierFeatures(base + "/none.safetensors", odegan::Device::cpu()), odegan::Error);
  // Bad flags.
  EXPECT_NE(run(bin("odegan_classifier") + " --data " + data + " --out " + base + "/x --epochs 0", &log), 0);
  EXPECT_NE(log.find("--epochs"), std::string::npos) << log;
  EXPECT_NE(run(bin("odegan_classifier") + " --data " + base + "/nowhere --out " + base + "/x", &log), 0);
  EXPECT_NE(log.find("nowhere"), std::string::npos) << log;
}

TEST(ClassifierApp, RealFashionMnistSubsetBeatsChanceByFar) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::string base = odegan::testing::temp_dir();
  std::string log;
  ASSERT_EQ(run(bin("odegan_classifier") + " --data " + dir + " --out " + base + "/w.safetensors --epochs 1"
                " --train-limit 2000 --test-limit 500 --threads 1 --device cpu --json " + base + "/acc.json", &log), 0)
      << log;
  EXPECT_GT(read_json(base + "/acc.json")["test_accuracy"].get<double>(), 0.6) << log;  // chance is 0.1
}

TEST(Cifar10App, EvalEveryLogsFdAndKeepsBestAndFinalAcrossResume) {
  const std::string data = tiny_idx_dir(32), base = odegan::testing::temp_dir();
  std::string log;
  ASSERT_EQ(run(bin("odegan_classifier") + " --data " + data + " --out " + base + "/w.safetensors --epochs 1 --batch 16"
                " --threads 0 --device cpu", &log), 0) << log;
  const std::string common = " --data " + data + " --format idx --device cpu --width-mult 0.03125 --batch 4 --latent 8"
                             " --threads 0 --log-every 1 --sample-every 0 --checkpoint-every 2 --eval-every 2"
                             " --eval-samples 12 --eval-ref-samples 20 --classifier " + base + "/w.safetensors";
  ASSERT_EQ(run(bin("odegan_cifar10") + common + " --steps 4 --out " + base + "/full", &log), 0) << log;
  std::vector<int64_t> steps;
  std::vector<double> fds;
  std::ifstream jl(base + "/full/metrics.jsonl");
  for (std::string line; std::getline(jl, line);) {
    json j = json::parse(line);
    if (!j.contains("fd")) continue;
    steps.push_back(j["step"]);
    fds.push_back(j["fd"]);
    EXPECT_TRUE(std::isfinite(fds.back()) && fds.back() > 0) << line;
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 2, 4}));
  for (const char* f : {"quality.json", "quality.png", "quality-ref-stats.safetensors"})
    EXPECT_TRUE(fs::exists(base + "/full/" + f)) << f;
  const json q = read_json(base + "/full/quality.json");
  EXPECT_EQ(q["metric"], "fd");
  EXPECT_EQ(q["samples"], 12);
  EXPECT_EQ(q["reference_count"], 20);
  EXPECT_EQ(q["final"]["step"], 4);
  EXPECT_EQ(q["final"]["fd"].get<double>(), fds.back());
  EXPECT_EQ(q["best"]["fd"].get<double>(), *std::min_element(fds.begin(), fds.end()));
  EXPECT_EQ(q["evaluations"].size(), 3u);
  // Interrupted after 2 steps and resumed: the same evaluations, none duplicated.
  ASSERT_EQ(run(bin("odegan_cifar10") + common + " --steps 2 --out " + base + "/part", &log), 0) << log;
  ASSERT_EQ(run(bin("odegan_cifar10") + common + " --steps 4 --resume --out " + base + "/part", &log), 0) << log;
  const json p = read_json(base + "/part/quality.json");
  ASSERT_EQ(p["evaluations"].size(), 3u) << p.dump();
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(p["evaluations"][i]["fd"], q["evaluations"][i]["fd"]) << i;
}

// --inception FILE in training: pytorch-fid's network (seeded random weights here, saved as a
// weights file as scripts/convert_inception.py writes one) gives "fid", "is" and "is_std"
// lines. With 10 samples each of the 10 IS splits holds one image, so IS is exactly 1.
TEST(Cifar10App, EvalEveryWithInceptionLogsFidAndIs) {
  const std::string base = odegan::testing::temp_dir();
  const std::string data = odegan::testing::write_tiny_cifar10(base + "/cifar");
  {
    odegan::nn::models::InceptionV3 net;
    odegan::nn::models::randomize_inception(net, 1);
    odegan::save_safetensors(base + "/inception.safetensors", net.state_dict());
  }
  const std::string common = bin("odegan_cifar10") + " --data " + data + " --device cpu --width-mult 0.03125 --batch 4"
                             " --latent 8 --threads 0 --log-every 1 --sample-every 0 --checkpoint-every 2";
  std::string log;
  ASSERT_EQ(run(common + " --steps 2 --eval-every 2 --eval-samples 10 --eval-ref-samples 12 --inception " + base +
                "/inception.safetensors --out " + base + "/run", &log), 0) << log;
  std::vector<int64_t> steps;
  std::ifstream jl(base + "/run/metrics.jsonl");
  for (std::string line; std::getline(jl, line);) {
    json j = json::parse(line);
    if (!j.contains("fid")) continue;
    steps.push_back(j["step"]);
    EXPECT_FALSE(j.contains("fd")) << line;
    EXPECT_TRUE(std::isfinite(j["fid"].get<double>()) && j["fid"].get<double>() > 0) << line;
    EXPECT_NEAR(j["is"].get<double>(), 1.0, 1e-9) << line;
    EXPECT_NEAR(j["is_std"].get<double>(), 0.0, 1e-9) << line;
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 2}));
  const json q = read_json(base + "/run/quality.json");
  EXPECT_EQ(q["metric"], "fid");
  EXPECT_EQ(q["features"], "inception-pool3");
  EXPECT_EQ(q["reference_count"], 12);
  const odegan::TensorMap ref = odegan::load_safetensors(base + "/run/quality-ref-stats.safetensors");
  ASSERT_TRUE(ref.count("mu")) << "reference statistics without mu";
  EXPECT_EQ(ref.at("mu").numel(), 2048);  // pool3 features
  // One feature network, and enough samples for the 10 IS splits.
  EXPECT_NE(run(common + " --steps 1 --eval-every 1 --eval-samples 5 --inception " + base +
                "/inception.safetensors --out " + base + "/bad1", &log), 0);
  EXPECT_NE(log.find("--eval-samples"), std::string::npos) << log;
  EXPECT_NE(run(common + " --steps 1 --eval-every 1 --classifier " + base + "/inception.safetensors --inception " +
                base + "/inception.safetensors --out " + base + "/bad2", &log), 0);
  EXPECT_NE(log.find("exclude each other"), std::string::npos) << log;
  EXPECT_NE(run(common + " --steps 1 --eval-every 1 --eval-samples 10 --inception " + base + "/none.safetensors --out " +
                base + "/bad3", &log), 0);
  EXPECT_NE(log.find("none.safetensors"), std::string::npos) << log;
}

TEST(Cifar10App, EvalFlagsAreValidated) {
  const std::string data = tiny_idx_dir(8), out = odegan::testing::temp_dir() + "/bad";
  const std::string common = bin("odegan_cifar10") + " --data " + data + " --format idx --device cpu --steps 1 --out " + out;
  std::string log;
  EXPECT_NE(run(common + " --eval-every 2", &log), 0);
  EXPECT_NE(log.find("--classifier"), std::string::npos) << log;
  EXPECT_NE(run(common + " --eval-every -1", &log), 0);
  EXPECT_NE(log.find("--eval-every"), std::string::npos) << log;
  EXPECT_NE(run(common + " --eval-every 1 --eval-samples 1 --classifier " + data + "/train-images-idx3-ubyte", &log), 0);
  EXPECT_NE(log.find("--eval-samples"), std::string::npos) << log;
  EXPECT_NE(run(common + " --eval-every 1 --classifier " + out + "/missing.safetensors", &log), 0);
  EXPECT_NE(log.find("missing.safetensors"), std::string::npos) << log;
}

}  // namespace

namespace {

TEST(FidApp, ClassifierFeaturesOnASamplesFile) {
  const std::string data = tiny_idx_dir(16), base = odegan::testing::temp_dir();
  std::string log;
  ASSERT_EQ(run(bin("odegan_classifier") + " --data " + data + " --out " + base + "/w.safetensors --epochs 1 --batch 8"
                " --threads 0 --device cpu", &log), 0) << log;
  odegan::save_safetensors(base + "/s.safetensors",
                           {{"images", odegan::testing::random_tensor({12, 1, 32, 32}, odegan::DType::f32, 3)}});
  const std::string cmd = bin("odegan_fid") + " --features classifier --classifier " + base + "/w.safetensors" +
                          " --ref " + data + " --ref-format idx --channels 1 --device cpu";
  ASSERT_EQ(run(cmd + " --samples " + base + "/s.safetensors --json " + base + "/fd.json", &log), 0) << log;
  const json j = read_json(base + "/fd.json");
  EXPECT_EQ(j["features"], "fmnist-classifier");
  EXPECT_EQ(j["feature_dim"], 128);
  EXPECT_EQ(j["n"], 12);
  EXPECT_GT(j["fd"].get<double>(), 0.0);
  EXPECT_FALSE(j.contains("fid")) << "classifier features reported as FID";
  EXPECT_TRUE(j.contains("class_score_mean")) << j.dump();
  EXPECT_NE(log.find("FD-FMNIST "), std::string::npos) << log;
  // The training split against itself: the same images, distance 0 (up to rounding).
  ASSERT_EQ(run(cmd + " --data " + data + " --format idx --json " + base + "/self.json", &log), 0) << log;
  EXPECT_NEAR(read_json(base + "/self.json")["fd"].get<double>(), 0.0, 1e-6);
  EXPECT_NE(run(bin("odegan_fid") + " --features classifier --data " + data + " --format idx --channels 1", &log), 0);
  EXPECT_NE(log.find("--classifier"), std::string::npos) << log;
  EXPECT_NE(run(cmd + " --samples " + base + "/none.safetensors", &log), 0);
  EXPECT_NE(log.find("none.safetensors"), std::string::npos) << log;
}

}  // namespace
