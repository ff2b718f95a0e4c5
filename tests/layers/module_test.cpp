// The module system: stable parameter order, one flat parameter buffer and one flat
// gradient buffer, device/dtype moves, state save/load with complete mismatch reports,
// train/eval, summaries.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "core/safetensors.h"
#include "layers/layers.h"
#include "tests/common/test_util.h"

namespace odegan::nn {
namespace {

double sum_abs(const Tensor& t) {
  double s = 0;
  for (double v : t.to_vector<double>()) s += std::fabs(v);
  return s;
}

std::shared_ptr<Sequential> small_net(DType t = DType::f32) {
  return std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
      std::make_shared<Linear>(3, 4, true, t), std::make_shared<ReLU>(), std::make_shared<BatchNorm1d>(4, 1e-5, 0.1, true, t),
      std::make_shared<Linear>(4, 2, false, t)});
}

TEST(Module, NamedParametersInStableOrder) {
  auto net = small_net();
  std::vector<std::string> names;
  for (auto& [n, p] : net->named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "3.weight"}));
  std::vector<std::string> bufs;
  for (auto& [n, b] : net->named_buffers()) bufs.push_back(n);
  EXPECT_EQ(bufs, (std::vector<std::string>{"2.running_mean", "2.running_var"}));
  EXPECT_EQ(net->num_parameters(), 3 * 4 + 4 + 4 + 4 + 4 * 2);
}

TEST(Module, ParametersAreViewsIntoOneFlatBuffer) {
  auto net = small_net();
  Generator g(1);
  net->reset_all(g, Init::reference);
  std::vector<double> before;
  for (auto& p : net->parameters())
    for (double v : p.data().to_vector<double>()) before.push_back(v);
  Tensor flat = net->flat_parameters();
  ASSERT_EQ(flat.numel(), net->num_parameters());
  EXPECT_EQ(flat.to_vector<double>(), before);  // packing preserves values, in order
  EXPECT_TRUE(net->flat_parameters().same_memory(flat));  // packed once
  // Writing the flat buffer changes the parameters the layers use.
  flat.fill_(0.5);
  for (auto& p : net->parameters())
    for (double v : p.data().to_vector<double>()) EXPECT_EQ(v, 0.5);
  // Gradients land in the flat gradient buffer of the same layout.
  Tensor grads = net->flat_gradients();
  net->zero_grad();
  ad::Var x(testing::random_tensor({5, 3}, DType::f32, 2));
  ad::backward(ad::sum((*net)(x)));
  auto params = net->parameters();
  int64_t at = 0;
  for (auto& p : params) {
    EXPECT_TRUE(p.grad().same_memory(grads.view(at, p.shape())));
    at += p.numel();
  }
  EXPECT_GT(sum_abs(grads), 0.0);
}

TEST(Module, ChildOfAPackedParentIsAContiguousRun) {
  auto a = small_net(), b = small_net();
  struct Pair : Module {
    Pair(std::shared_ptr<Module> x, std::shared_ptr<Module> y) {
      register_module("a", std::move(x));
      register_module("b", std::move(y));
    }
    std::string type_name() const override { return "Pair"; }
  };
  Pair pair(a, b);
  Tensor all = pair.flat_parameters();
  Tensor pa = a->flat_parameters(), pb = b->flat_parameters();
  EXPECT_EQ(pa.storage(), all.storage());
  EXPECT_EQ(pb.storage(), all.storage());
  EXPECT_EQ(pa.offset_bytes(), all.offset_bytes());
  EXPECT_EQ(pb.offset_bytes(), all.offset_bytes() + pa.nbytes());
  EXPECT_EQ(pa.numel() + pb.numel(), all.numel());
  EXPECT_EQ(a->flat_gradients().storage(), pair.flat_gradients().storage());
}

TEST(Module, ToDtypeConvertsParametersAndBuffers) {
  auto net = small_net();
  Generator g(3);
  net->reset_all(g, Init::reference);
  std::vector<double> before = net->flat_parameters().to_vector<double>();
  net->to(DType::f64);
  EXPECT_EQ(net->dtype(), DType::f64);
  EXPECT_EQ(net->flat_parameters().dtype(), DType::f64);
  EXPECT_EQ(net->flat_parameters().to_vector<double>(), before);
  for (auto& [n, b] : net->named_buffers()) EXPECT_EQ(b->dtype(), DType::f64) << n;
}

TEST(Module, SaveLoadRoundTripAndMismatchReport) {
  const std::string path = testing::temp_dir() + "/net.safetensors";
  auto net = small_net();
  Generator g(4);
  net->reset_all(g, Init::reference);
  net->named_buffers()[0].second->fill_(0.25);
  net->save(path);
  auto other = small_net();
  other->load(path);
  EXPECT_EQ(other->flat_parameters().to_vector<double>(), net->flat_parameters().to_vector<double>());
  EXPECT_EQ(other->named_buffers()[0].second->to_vector<double>()[0], 0.25);
  // The file opens as plain safetensors with the parameter names as keys.
  TensorMap m = load_safetensors(path);
  EXPECT_TRUE(m.count("0.weight") && m.count("2.running_var"));
  // A model of another shape: every problem listed in one error.
  auto wrong = std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
      std::make_shared<Linear>(3, 5), std::make_shared<ReLU>(), std::make_shared<Linear>(5, 2, false)});
  try {
    wrong->load(path);
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'0.weight': expected [5, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected '2.bias'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'2.weight': expected [2, 5]"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
  }
  EXPECT_THROW(other->load(testing::temp_dir() + "/nope.safetensors"), Error);
  // Batch norm is named as in PyTorch (weight, bias); files from before, with gamma and
  // beta, still load.
  TensorMap legacy;
  for (auto& [name, t] : m) {
    std::string n = name;
    if (n == "2.weight") n = "2.gamma";
    if (n == "2.bias") n = "2.beta";
    legacy[n] = t;
  }
  ASSERT_TRUE(legacy.count("2.gamma"));
  save_safetensors(path, legacy);
  auto third = small_net();
  third->load(path);
  EXPECT_EQ(third->flat_parameters().to_vector<double>(), net->flat_parameters().to_vector<double>());
}

TEST(Module, TrainEvalReachesChildren) {
  auto net = small_net();
  net->eval();
  for (auto& [n, c] : net->named_children()) EXPECT_FALSE(c->is_training()) << n;
  net->train();
  for (auto& [n, c] : net->named_children()) EXPECT_TRUE(c->is_training()) << n;
}

TEST(Module, SummaryListsLayersShapesAndCounts) {
  auto net = small_net();
  std::string s = summary(*net, {7, 3});
  EXPECT_NE(s.find("Linear"), std::string::npos) << s;
  EXPECT_NE(s.find("BatchNorm1d"), std::string::npos) << s;
  EXPECT_NE(s.find("[7, 4]"), std::string::npos) << s;
  EXPECT_NE(s.find("[7, 2]"), std::string::npos) << s;
  EXPECT_NE(s.find("total parameters: 32"), std::string::npos) << s;
}

TEST(Init, SchemesHaveTheirScales) {
  Generator g(5);
  Linear ref(400, 300), dc(400, 300), km(400, 300), xv(400, 300);
  ref.reset_parameters(g, Init::reference);
  dc.reset_parameters(g, Init::dcgan);
  km.reset_parameters(g, Init::kaiming_uniform);
  xv.reset_parameters(g, Init::xavier_uniform);
  auto stats = [](const Tensor& t) {
    std::vector<double> v = t.to_vector<double>();
    double s = 0, mx = 0;
    for (double x : v) s += x * x, mx = std::max(mx, std::fabs(x));
    return std::pair<double, double>{std::sqrt(s / v.size()), mx};
  };
  auto [rs, rm] = stats(ref.weight().data());
  EXPECT_NEAR(rs, std::sqrt(0.773741) / 20, 0.002);  // truncated normal, std 1/sqrt(400)
  EXPECT_LE(rm, 2.0 / 20 + 1e-6);
  EXPECT_NEAR(stats(dc.weight().data()).first, 0.02, 0.001);
  EXPECT_LE(stats(km.weight().data()).second, 1 / 20.0);
  EXPECT_NEAR(stats(xv.weight().data()).first, std::sqrt(6.0 / 700) / std::sqrt(3.0), 0.002);
  for (double b : ref.bias().data().to_vector<double>()) EXPECT_EQ(b, 0.0);
  EXPECT_THROW(parse_init("orthogonal"), Error);
}

}  // namespace
}  // namespace odegan::nn
