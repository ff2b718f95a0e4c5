// The FID network (layers/models/inception.h): its structure against pytorch-fid's (names,
// shapes, parameter count), parity with pytorch-fid's own model code on random weights
// (tests/fixtures/inception_parity.safetensors, made by scripts/make_inception_fixture.py),
// input handling, and the errors of load_inception.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

#include "core/safetensors.h"
#include "layers/models/inception.h"
#include "tests/common/test_util.h"

namespace odegan::nn::models {
namespace {

using testing::temp_dir;

constexpr uint64_t kSeed = 2015;  // the seed scripts/make_inception_fixture.py used

// The fixture's inputs, by a closed form that is exact in float32 on both sides (Python
// computes the same): pixel values are small-integer ratios in [0, 1].
Tensor rgb_images() {  // (2, 3, 32, 32)
  std::vector<double> v;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 32; ++h)
        for (int w = 0; w < 32; ++w)
          v.push_back(((3 * h + 5 * w + 7 * c + 11 * n) % 17) / 16.0 * 0.5 + ((h * w + c) % 13) / 12.0 * 0.5);
  return Tensor::from_doubles(v, {2, 3, 32, 32}, DType::f32);
}
Tensor grey_image() {  // (1, 1, 40, 28)
  std::vector<double> v;
  for (int h = 0; h < 40; ++h)
    for (int w = 0; w < 28; ++w) v.push_back(((2 * h + 3 * w) % 11) / 10.0 * 0.6 + (h % 7) / 6.0 * 0.4);
  return Tensor::from_doubles(v, {1, 1, 40, 28}, DType::f32);
}

std::shared_ptr<InceptionV3> random_net() {
  static std::shared_ptr<InceptionV3> net = [] {
    auto n = std::make_shared<InceptionV3>();
    randomize_inception(*n, kSeed);
    return n;
  }();
  return net;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Inception, StructureIsPytorchFids) {
  InceptionV3 net;
  // torchvision's inception_v3 without the auxiliary head (23 834 568) plus the 1008-way fc's
  // extra 8 classes (8 x 2049); scripts/convert_inception.py counts the same from its table.
  EXPECT_EQ(net.num_parameters(), 23850960);
  auto state = net.state_dict();
  EXPECT_EQ(state.size(), 94u * 5 + 2);  // 94 BasicConv2d (conv + 4 batch-norm tensors), fc
  const std::vector<std::pair<std::string, Shape>> spots = {
      {"Conv2d_1a_3x3.conv.weight", {32, 3, 3, 3}},         {"Conv2d_1a_3x3.bn.running_var", {32}},
      {"Mixed_5b.branch_pool.conv.weight", {32, 192, 1, 1}}, {"Mixed_6a.branch3x3.conv.weight", {384, 288, 3, 3}},
      {"Mixed_6b.branch7x7_2.conv.weight", {128, 128, 1, 7}}, {"Mixed_6e.branch7x7dbl_4.conv.weight", {192, 192, 7, 1}},
      {"Mixed_7a.branch7x7x3_4.conv.weight", {192, 192, 3, 3}}, {"Mixed_7c.branch3x3_2b.conv.weight", {384, 384, 3, 1}},
      {"Mixed_7c.branch_pool.bn.weight", {192}},               {"fc.weight", {1008, 2048}},
      {"fc.bias", {1008}}};
  for (const auto& [name, shape] : spots) {
    ASSERT_TRUE(state.count(name)) << name;
    EXPECT_EQ(state[name].shape(), shape) << name;
  }
  EXPECT_FALSE(net.is_training());
}

// Features of random weights must be informative for the parity comparison to mean anything:
// pool3 (a mean of ReLUs) mostly positive and O(1), logits spread out.
void expect_not_degenerate(const InceptionV3::Outputs& o) {
  std::vector<double> p = o.pool3.to(Device::cpu()).to_vector<double>(), l = o.logits.to(Device::cpu()).to_vector<double>();
  const double zeros = double(std::count(p.begin(), p.end(), 0.0)) / double(p.size());
  double mean = 0, lmax = 0, lvar = 0, lmean = 0;
  for (double v : p) mean += v / double(p.size());
  for (double v : l) lmean += v / double(l.size()), lmax = std::max(lmax, std::fabs(v));
  for (double v : l) lvar += (v - lmean) * (v - lmean) / double(l.size());
  EXPECT_LT(zeros, 0.25) << "pool3 mostly zero: dead ReLUs";
  EXPECT_GT(mean, 0.05);
  EXPECT_LT(mean, 20.0);
  EXPECT_GT(std::sqrt(lvar), 0.05);
  EXPECT_LT(lmax, 1e3);
}

void expect_matches_fixture(Device dev) {
  auto net = random_net();
  net->to(dev);
  const std::string path = std::string(ODEGAN_SOURCE_DIR) + "/tests/fixtures/inception_parity.safetensors";
  TensorMap want = load_safetensors(path);
  for (const char* which : {"rgb", "grey"}) {
    SCOPED_TRACE(which);
    Tensor images = std::string(which) == "rgb" ? rgb_images() : grey_image();
    InceptionV3::Outputs o = net->run(images.to(dev));
    expect_not_degenerate(o);
    for (const char* out : {"pool3", "logits"}) {
      const Tensor& got = std::string(out) == "pool3" ? o.pool3 : o.logits;
      const Tensor& ref = want.at(std::string(out) + "_" + which);
      // Relative to each element, with a floor of 1e-4 of the typical magnitude for
      // elements near zero.
      double scale = 0;
      for (double v : ref.to_vector<double>()) scale = std::max(scale, std::fabs(v));
      EXPECT_TENSOR_NEAR(got.to(Device::cpu()), ref, 1e-4, 1e-4 * scale) << out;
    }
  }
  net->to(Device::cpu());
}

TEST(Inception, MatchesPytorchFidOnRandomWeights) { expect_matches_fixture(Device::cpu()); }

TEST(Inception, GreyIsRepeatedAndSizeIsRespected) {
  auto net = random_net();
  Tensor grey = grey_image();
  // The same grey picture given as three equal channels, in float64 (converted to the net's
  // dtype), gives the same features.
  std::vector<double> g = grey.to_vector<double>(), rgb;
  for (int c = 0; c < 3; ++c) rgb.insert(rgb.end(), g.begin(), g.end());
  InceptionV3::Outputs a = net->run(grey), b = net->run(Tensor::from_doubles(rgb, {1, 3, 40, 28}, DType::f64));
  EXPECT_TENSOR_NEAR(a.pool3, b.pool3, 0, 0);
  EXPECT_EQ(a.pool3.shape(), Shape({1, 2048}));
  EXPECT_EQ(a.logits.shape(), Shape({1, 1008}));
  EXPECT_EQ(a.pool3.dtype(), DType::f32);
  EXPECT_NE(error_of([&] { net->run(Tensor::zeros({1, 2, 8, 8})); }).find("InceptionV3: images"), std::string::npos);
  EXPECT_NE(error_of([&] { net->run(Tensor::zeros({2, 8, 8})); }).find("InceptionV3: images"), std::string::npos);
}

TEST(Inception, LoadInceptionRoundTripAndErrorsNameFileAndTensor) {
  namespace fs = std::filesystem;
  const std::string dir = temp_dir();
  InceptionV3 small;  // zero weights: what is checked is names, shapes and dtypes
  TensorMap good = small.state_dict();
  good["fc.bias"] = Tensor::full({1008}, 0.25);
  const std::string ok = dir + "/inception_ok.safetensors";
  save_safetensors(ok, good);
  auto loaded = load_inception(ok, DType::f64);
  EXPECT_EQ(loaded->dtype(), DType::f64);
  EXPECT_EQ(loaded->state_dict().at("fc.bias").to_vector<double>()[7], 0.25);
  EXPECT_FALSE(loaded->is_training());
  fs::remove(ok);

  // Two broken files (each problem is reported with the others): a missing and an
  // unexpected tensor; a wrong shape and a wrong dtype.
  struct Case {
    const char* what;
    std::function<void(TensorMap&)> edit;
    std::vector<const char*> tensors;
  };
  const std::vector<Case> cases = {
      {"names",
       [](TensorMap& m) {
         m.erase("Mixed_6c.branch7x7dbl_3.bn.running_var");
         m["AuxLogits.fc.weight"] = Tensor::zeros({1000, 768});
       },
       {"Mixed_6c.branch7x7dbl_3.bn.running_var", "AuxLogits.fc.weight"}},
      {"types",
       [](TensorMap& m) {
         m["Mixed_7b.branch3x3_2a.conv.weight"] = Tensor::zeros({384, 384, 3, 1});
         m["fc.weight"] = Tensor::zeros({1008, 2048}, DType::f64);
       },
       {"Mixed_7b.branch3x3_2a.conv.weight", "fc.weight': expected [1008, 2048] float32, found [1008, 2048] float64"}},
  };
  for (const Case& c : cases) {
    TensorMap m = good;
    c.edit(m);
    const std::string path = dir + "/inception_" + c.what + ".safetensors";
    save_safetensors(path, m);
    const std::string msg = error_of([&] { load_inception(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << c.what << ": " << msg;
    for (const char* t : c.tensors) EXPECT_NE(msg.find(t), std::string::npos) << c.what << ": " << t << " in " << msg;
    fs::remove(path);
  }
  const std::string missing = dir + "/no_such_inception.safetensors";
  const std::string msg = error_of([&] { load_inception(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("convert_inception.py"), std::string::npos) << msg;
}

class InceptionCuda : public ::testing::Test {
 protected:
  void SetUp() override { ODEGAN_REQUIRE_CUDA(); }
};

TEST_F(InceptionCuda, MatchesPytorchFidOnRandomWeights) { expect_matches_fixture(Device::cuda()); }

}  // namespace
}  // namespace odegan::nn::models
