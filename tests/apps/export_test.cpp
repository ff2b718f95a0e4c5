// odegan_export: the generator file carries exactly the tensor names and shapes of the
// PyTorch modules written down in scripts/odegan_torch.py (fixtures made from them), its
// metadata builds the module, and the weights reproduce the generator's images. The pixel
// comparison with PyTorch itself runs in scripts/odegan_torch.py check (torch needed).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/common/image_gan.h"
#include "core/safetensors.h"
#include "data/image.h"
#include "tests/common/app_util.h"
#include "tests/common/test_util.h"

namespace {
using namespace odegan;
using odegan::testing::bin;
using odegan::testing::run;
namespace fs = std::filesystem;

// "name d0 d1 ..." lines -> name -> shape.
std::map<std::string, std::vector<int64_t>> read_description(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::map<std::string, std::vector<int64_t>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::string name;
    ss >> name;
    std::vector<int64_t>& shape = out[name];
    for (int64_t d; ss >> d;) shape.push_back(d);
  }
  return out;
}

std::string image_folder(const std::string& root) {
  for (int c = 0; c < 3; ++c) {
    fs::create_directories(root + "/class" + std::to_string(c));
    for (int i = 0; i < 2; ++i) {
      data::Image img;
      img.height = img.width = 20, img.channels = 3;
      img.px.resize(20 * 20 * 3);
      for (size_t k = 0; k < img.px.size(); ++k) img.px[k] = static_cast<float>((k * 7 + c * 50 + i * 90) % 256) / 255.f;
      data::write_png(root + "/class" + std::to_string(c) + "/" + std::to_string(i) + ".png", img);
    }
  }
  return root;
}

struct Case {
  std::string arch, train;
};

TEST(Export, GeneratorsHaveThePytorchModulesNamesAndShapesAndReproduceTheirImages) {
  const std::string base = odegan::testing::temp_dir();
  const std::string cifar = odegan::testing::write_tiny_cifar10(base + "/cifar");
  const std::string common = " --device cpu --latent 8 --threads 0 --h 0.001 --log-every 1 --sample-every 0"
                             " --checkpoint-every 1 --steps 1";
  const std::vector<Case> cases = {
      {"dcgan", bin("odegan_cifar10") + " --data " + cifar + " --arch dcgan --width-mult 0.03125 --batch 4"},
      {"resnet", bin("odegan_cifar10") + " --data " + cifar + " --arch resnet --width-mult 0.03125 --batch 4"},
      {"imagenet_resnet", bin("odegan_imagenet") + " --data " + image_folder(base + "/folder") +
                              " --ch 2 --image-size 16 --batch 3"},
  };
  for (const Case& c : cases) {
    const std::string dir = base + "/" + c.arch, file = dir + ".safetensors";
    std::string log;
    ASSERT_EQ(run(c.train + common + " --out " + dir, &log), 0) << c.arch << "\n" << log;
    ASSERT_EQ(run(bin("odegan_export") + " --run " + dir + " --out " + file + " --check 3", &log), 0) << c.arch << "\n"
                                                                                                       << log;
    // Names and shapes: exactly the PyTorch module's (less num_batches_tracked).
    std::map<std::string, std::string> meta;
    const TensorMap t = load_safetensors(file, &meta);
    const auto expected = read_description(std::string(ODEGAN_SOURCE_DIR) + "/tests/fixtures/pytorch/" + c.arch +
                                           "_generator.txt");
    ASSERT_FALSE(expected.empty());
    std::map<std::string, std::vector<int64_t>> got;
    for (const auto& [name, x] : t) got[name] = x.shape().vec();
    EXPECT_EQ(got, expected) << c.arch;
    // The metadata that builds the module.
    const nlohmann::json m = nlohmann::json::parse(meta.at("odegan_generator"));
    EXPECT_EQ(m["arch"], c.arch);
    EXPECT_EQ(m["latent"], 8);
    EXPECT_EQ(m["channels"], 3);
    EXPECT_EQ(m["num_classes"], c.arch == "imagenet_resnet" ? 3 : 0);
    EXPECT_DOUBLE_EQ(m["bn_eps"].get<double>(), c.arch == "dcgan" ? 1e-3 : 1e-5);
    EXPECT_EQ(meta.at("format"), "pt");
    // The exported weights, loaded into a fresh generator of the run's config, draw the
    // images of the check file bit for bit.
    const app::ImageGanConfig cfg = app::ImageGanConfig::from_json(app::read_json(dir + "/config.json"));
    solvers::Players p = app::build_players(cfg, DType::f32, Device::cpu());
    p.generator->load_state_dict(t);
    p.generator->eval();
    const TensorMap check = load_safetensors(file + ".check.safetensors");
    ad::NoGradGuard no_grad;
    const Tensor labels = check.count("labels") ? check.at("labels") : Tensor();
    EXPECT_EQ(c.arch == "imagenet_resnet", labels.defined()) << c.arch;
    const Tensor x = p.generate(ad::Var(check.at("z")), labels).data();
    EXPECT_EQ(x.to_vector<float>(), check.at("images").to_vector<float>()) << c.arch;
  }
}

TEST(Export, BadRunsAndFlagsAreClearErrors) {
  const std::string base = odegan::testing::temp_dir();
  std::string log;
  EXPECT_EQ(run(bin("odegan_export") + " --run " + base + "/nothing --out " + base + "/g.safetensors", &log), 1);
  EXPECT_NE(log.find("no config.json"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(base + "/g.safetensors"));
  EXPECT_NE(run(bin("odegan_export") + " --run " + base + " --out x --dtype float16", &log), 0);
  EXPECT_NE(log.find("--dtype"), std::string::npos) << log;
}

}  // namespace
