// The FD-FMNIST classifier: shapes and an exact parameter count (from the layer list, not
// the model code), the cross-entropy against a direct float64 log-softmax and by finite
// differences, save/load, and that Adam on it fits a small batch and learns a separable
// synthetic task far above chance in a few hundred fast steps.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/engine.h"
#include "autodiff/gradcheck.h"
#include "layers/models/classifier.h"
#include "solvers/optimizers.h"
#include "tests/common/test_util.h"

namespace odegan::nn::models {
namespace {

int64_t conv(int64_t i, int64_t o, int64_t k) { return i * o * k * k + o; }
int64_t linear(int64_t i, int64_t o) { return i * o + o; }
int64_t bn(int64_t c) { return 2 * c; }

TEST(Classifier, ShapesAndCount) {
  Classifier m;
  EXPECT_EQ(m.num_parameters(),
            conv(1, 16, 3) + bn(16) + conv(16, 32, 3) + bn(32) + conv(32, 64, 3) + bn(64) + linear(64 * 4 * 4, 128) +
                linear(128, 10));
  EXPECT_EQ(m.num_parameters(), 156010);
  Generator g(1);
  m.reset_all(g, Init::kaiming_uniform);
  Var x(testing::random_tensor({3, 1, 32, 32}, DType::f32, 2));
  EXPECT_EQ(m.features(x).shape(), Shape({3, 128}));
  EXPECT_EQ(m(x).shape(), Shape({3, 10}));
  ClassifierOptions o;
  o.image_channels = 3;
  o.width = 4;
  o.features = 8;
  Classifier small(o);
  EXPECT_EQ(small.num_parameters(),
            conv(3, 4, 3) + bn(4) + conv(4, 8, 3) + bn(8) + conv(8, 16, 3) + bn(16) + linear(256, 8) + linear(8, 10));
  EXPECT_THROW(m(Var(Tensor::zeros({2, 3, 32, 32}))), Error);  // wrong channel count
  EXPECT_THROW(m(Var(Tensor::zeros({2, 1, 28, 28}))), Error);  // wrong size
}

TEST(Classifier, CrossEntropyMatchesLogSoftmaxAndFiniteDifferences) {
  const int64_t n = 5, k = 4;
  Tensor logits = testing::random_tensor({n, k}, DType::f64, 3, -3.0, 3.0);
  // Large offsets on one row: the shifted log-sum-exp must not overflow.
  for (int j = 0; j < k; ++j) logits.data<double>()[j] += 800.0;
  const std::vector<int32_t> y = {0, 3, 1, 1, 2};
  Tensor labels = Tensor::from_vector(y, {n});
  double expect = 0;
  const double* l = logits.data<double>();
  for (int64_t i = 0; i < n; ++i) {
    double mx = l[i * k];
    for (int64_t j = 1; j < k; ++j) mx = std::max(mx, l[i * k + j]);
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += std::exp(l[i * k + j] - mx);
    expect += (mx + std::log(s) - l[i * k + y[static_cast<size_t>(i)]]) / n;
  }
  EXPECT_NEAR(cross_entropy(Var(logits), labels).item(), expect, 1e-12);
  auto r = ad::gradcheck([&](const std::vector<Var>& v) { return cross_entropy(v[0], labels); }, {logits});
  EXPECT_TRUE(r.ok) << r.message;
  auto r2 = ad::gradgradcheck([&](const std::vector<Var>& v) { return cross_entropy(v[0], labels); }, {logits});
  EXPECT_TRUE(r2.ok) << r2.message;
  EXPECT_THROW(cross_entropy(Var(logits), Tensor::from_vector(std::vector<int32_t>{0, 1}, {2})), Error);
  // count_correct: argmax per row against the labels.
  Tensor lg = Tensor::from_vector(std::vector<float>{0, 2, 1, 5, 0, 0, 1, 1, 3}, {3, 3});
  EXPECT_EQ(count_correct(lg, Tensor::from_vector(std::vector<int32_t>{1, 0, 0}, {3})), 2);  // ties: first class
}

TEST(Classifier, SavesAndLoads) {
  Classifier a, b;
  Generator g(4);
  a.reset_all(g, Init::kaiming_uniform);
  const std::string path = testing::temp_dir() + "/classifier.safetensors";
  a.save(path);
  b.load(path);
  Var x(testing::random_tensor({2, 1, 32, 32}, DType::f32, 5));
  EXPECT_EQ(a(x).data().to_vector<float>(), b(x).data().to_vector<float>());
  ClassifierOptions o;
  o.features = 64;
  Classifier c(o);
  EXPECT_THROW(c.load(path), Error);  // wrong shapes are refused
}

// Two classes that differ only in where a bright blob sits (left or right half), plus
// noise: a classifier that learns anything beats 50 % by far.
void synthetic(int64_t n, uint64_t seed, Tensor& x, Tensor& y) {
  x = testing::random_tensor({n, 1, 32, 32}, DType::f32, seed, -1.0, -0.4);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  Generator g(seed + 100);
  float* p = x.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t c = static_cast<int32_t>(g.next_below(2));
    labels[static_cast<size_t>(i)] = c;
    const int64_t cy = 8 + static_cast<int64_t>(g.next_below(16)), cx = (c ? 20 : 4) + static_cast<int64_t>(g.next_below(8));
    for (int64_t dy = 0; dy < 5; ++dy)
      for (int64_t dx = 0; dx < 5; ++dx) p[i * 1024 + (cy + dy) * 32 + cx + dx] = 1.f;
  }
  y = Tensor::from_vector(labels, {n});
}

TEST(Classifier, AdamFitsABatchAndLearnsAboveChance) {
  ClassifierOptions o;
  o.width = 4;
  o.features = 16;
  o.num_classes = 2;
  Classifier m(o);
  Generator g(6);
  m.reset_all(g, Init::kaiming_uniform);
  Tensor params = m.flat_parameters(), grads = m.flat_gradients();
  solvers::Adam adam({1e-2, 0.9, 0.999, 1e-8});
  Tensor test_x, test_y;
  synthetic(200, 7, test_x, test_y);
  auto step = [&](const Tensor& x, const Tensor& y) {
    Var loss = cross_entropy(m(Var(x)), y);
    grads.zero_();
    ad::BackwardOptions bo;
    bo.inputs = m.parameters();
    ad::backward(loss, bo);
    adam.step(params, grads);
    return loss.item();
  };
  Tensor bx, by;
  synthetic(32, 8, bx, by);
  const double first = step(bx, by);
  double last = first;
  for (int i = 0; i < 40; ++i) last = step(bx, by);
  EXPECT_LT(last, 0.25 * first);  // one batch is fitted
  for (int i = 0; i < 60; ++i) {
    synthetic(32, 1000 + static_cast<uint64_t>(i), bx, by);
    step(bx, by);
  }
  ad::NoGradGuard no_grad;
  const double acc = double(count_correct(m(Var(test_x)).data(), test_y)) / 200.0;
  EXPECT_GT(acc, 0.9);
}

}  // namespace
}  // namespace odegan::nn::models
