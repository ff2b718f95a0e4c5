// The engine itself, on every device: gradients against closed forms, higher orders,
// accumulation modes, pruning of unneeded branches, freed graphs; and million-op chains.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "autodiff/node.h"
#include "tests/common/device_test.h"
#include "tests/common/test_util.h"

namespace odegan::ad {
namespace {

class Engine : public testing::DeviceTest {
 protected:
  Var scalar(double v, bool requires_grad = true) const {
    return Var(Tensor::scalar(v, DType::f64, device()), requires_grad);
  }
  Tensor vec(const std::vector<double>& v) const {
    return Tensor::from_vector<double>(v, {static_cast<int64_t>(v.size())}, device());
  }
};
ODEGAN_INSTANTIATE_DEVICES(Engine);

TEST_P(Engine, PolynomialGradient) {
  Var x = scalar(1.5);
  Var y = add(mul(x, x), mul(x, 3.0));  // x^2 + 3x
  EXPECT_NEAR(grad(y, x).item(), 2 * 1.5 + 3, 1e-15);
}

TEST_P(Engine, VectorGradientsWithGradOutputs) {
  Var x(vec({1, 2, 3}), true);
  Var y = mul(x, x);
  Var v(vec({1, 10, 100}));
  Var gx = grad({y}, {x}, {v})[0];
  EXPECT_EQ(gx.data().to_vector<double>(), (std::vector<double>{2, 40, 600}));
}

TEST_P(Engine, GradientWithRespectToAnIntermediate) {
  Var x = scalar(2.0);
  Var h = exp(x);
  Var y = mul(h, h);  // dy/dh = 2h
  std::vector<Var> g = grad({y}, {h, x});
  EXPECT_NEAR(g[0].item(), 2 * std::exp(2.0), 1e-12);
  EXPECT_NEAR(g[1].item(), 2 * std::exp(4.0), 1e-10);
}

TEST_P(Engine, SharedSubexpressionsAccumulate) {
  Var x = scalar(0.7);
  Var a = tanh(x);
  Var y = add(mul(a, a), a);  // a^2 + a, a = tanh x
  double t = std::tanh(0.7);
  EXPECT_NEAR(grad(y, x).item(), (2 * t + 1) * (1 - t * t), 1e-14);
}

TEST_P(Engine, SecondAndThirdOrderOfTanh) {
  for (double x0 : {-1.3, 0.0, 0.4, 2.0}) {
    Var x = scalar(x0);
    Var y = tanh(x);
    GradOptions keep;
    keep.create_graph = true;
    Var d1 = grad(y, x, keep);
    Var d2 = grad(d1, x, keep);
    Var d3 = grad(d2, x);
    double t = std::tanh(x0);
    EXPECT_NEAR(d1.item(), 1 - t * t, 1e-14) << x0;
    EXPECT_NEAR(d2.item(), -2 * t * (1 - t * t), 1e-14) << x0;
    EXPECT_NEAR(d3.item(), -2 * (1 - t * t) * (1 - 3 * t * t), 1e-13) << x0;
  }
}

TEST_P(Engine, GradOfGradIsMixedPartial) {
  // f(x, y) = x^2 y^3: d/dy (df/dx) = 6 x y^2.
  Var x = scalar(1.5), y = scalar(-0.5);
  Var f = mul(square(x), mul(y, square(y)));
  GradOptions keep;
  keep.create_graph = true;
  Var fx = grad(f, x, keep);
  EXPECT_NEAR(grad(fx, y).item(), 6 * 1.5 * 0.25, 1e-14);
}

TEST_P(Engine, BackwardAccumulatesOrOverwritesIntoPresetViews) {
  Tensor flat_grad = Tensor::zeros({4}, DType::f64, device());
  Var w(vec({1, 2, 3}), true);
  Var b(vec({5}), true);
  w.set_grad(flat_grad.view(0, {3}));
  b.set_grad(flat_grad.view(3, {1}));
  auto loss = [&] { return sum(add(mul(w, w), b)); };  // grads: 2w, 3
  backward(loss());
  EXPECT_EQ(flat_grad.to_vector<double>(), (std::vector<double>{2, 4, 6, 3}));
  backward(loss());
  EXPECT_EQ(flat_grad.to_vector<double>(), (std::vector<double>{4, 8, 12, 6}));
  BackwardOptions over;
  over.write = GradWrite::overwrite;
  backward(loss(), over);
  EXPECT_EQ(flat_grad.to_vector<double>(), (std::vector<double>{2, 4, 6, 3}));
  EXPECT_TRUE(w.grad().same_memory(flat_grad.view(0, {3})));
}

TEST_P(Engine, BackwardRestrictedToInputs) {
  Var a = scalar(2.0), b = scalar(3.0);
  BackwardOptions only_a;
  only_a.inputs = {a};
  backward(mul(a, b), only_a);
  EXPECT_NEAR(a.grad().item(), 3.0, 0);
  EXPECT_FALSE(b.grad().defined());
}

// on_input_ready: each reached input once, when its gradient is already final (a later
// pass adds nothing to it), the last layer before the first; unreached inputs never.
TEST_P(Engine, InputsAreAnnouncedOnceWhenTheirGradientIsFinal) {
  Var w1(vec({1, 2}), true), w2(vec({3, 4}), true), w3(vec({5, 6}), true), unused(vec({7}), true);
  // Three "layers": h1 = w1 * x, h2 = h1 * w2 + w1 (w1 reached twice, the second path
  // later in the backward order), loss = sum(h2 * w3).
  Var x(vec({0.5, -1.5}));
  Var h1 = mul(w1, x);
  Var h2 = add(mul(h1, w2), w1);
  Var loss = sum(mul(h2, w3));
  std::vector<size_t> order;
  std::vector<std::vector<double>> at_announce(4);
  BackwardOptions o;
  o.inputs = {w1, w2, w3, unused};
  o.on_input_ready = [&](size_t i) {
    order.push_back(i);
    at_announce[i] = o.inputs[i].grad().to_vector<double>();
  };
  backward(loss, o);
  EXPECT_EQ(order, (std::vector<size_t>{2, 1, 0}));
  // d/dw3 = h2, d/dw2 = h1 * w3, d/dw1 = x * w2 * w3 + w3.
  EXPECT_EQ(at_announce[2], (std::vector<double>{0.5 * 3 + 1, -3.0 * 4 + 2}));
  EXPECT_EQ(at_announce[1], (std::vector<double>{0.5 * 5, -3.0 * 6}));
  EXPECT_EQ(at_announce[0], (std::vector<double>{0.5 * 3 * 5 + 5, -1.5 * 4 * 6 + 6}));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(o.inputs[i].grad().to_vector<double>(), at_announce[i]) << i;
  EXPECT_FALSE(unused.grad().defined());
  BackwardOptions none;
  none.on_input_ready = [](size_t) {};
  EXPECT_THROW(backward(sum(mul(w1, w1)), none), Error);
}

TEST_P(Engine, NoGradGuardRecordsNothing) {
  Var x = scalar(1.0);
  {
    NoGradGuard guard;
    Var y = mul(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
  }
  EXPECT_TRUE(mul(x, x).requires_grad());
  Var c = scalar(2.0, false);
  EXPECT_FALSE(mul(c, c).requires_grad());
  EXPECT_THROW(grad(mul(c, c), x), Error);
}

// A test-only differentiable function that counts how often its rule runs.
struct CountingBackward : Node {
  static int calls;
  const char* name() const override { return "CountingBackward"; }
  std::vector<Var> apply(std::vector<Var>&& g) override {
    ++calls;
    return {g[0]};
  }
};
int CountingBackward::calls = 0;

Var counting_identity(const Var& x) {
  auto node = make_node<CountingBackward>({&x});
  return node ? make_output(x.data(), node) : x;
}

TEST_P(Engine, BranchesThatLeadToNoRequestedInputAreSkipped) {
  CountingBackward::calls = 0;
  Var x = scalar(1.0), y = scalar(2.0);
  Var out = add(mul(counting_identity(x), 2.0), mul(counting_identity(y), 3.0));
  EXPECT_NEAR(grad(out, y).item(), 3.0, 0);
  EXPECT_EQ(CountingBackward::calls, 1);  // x's branch never ran
}

TEST_P(Engine, UnusedInputIsAnErrorUnlessAllowed) {
  Var x = scalar(1.0), unused = scalar(2.0);
  Var y = mul(x, x);
  EXPECT_THROW(grad({y}, {unused}), Error);
  GradOptions allow;
  allow.allow_unused = true;
  allow.retain_graph = true;
  EXPECT_FALSE(grad({y}, {unused}, {}, allow)[0].defined());
}

TEST_P(Engine, FreedGraphIsAClearError) {
  Var x = scalar(0.5);
  Var y = exp(x);
  EXPECT_NEAR(grad(y, x).item(), std::exp(0.5), 1e-15);
  try {
    grad(y, x);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("ExpBackward"), std::string::npos) << m;
    EXPECT_NE(m.find("retain_graph"), std::string::npos) << m;
  }
  Var z = exp(x);
  GradOptions keep;
  keep.retain_graph = true;
  grad(z, x, keep);
  EXPECT_NEAR(grad(z, x).item(), std::exp(0.5), 1e-15);
}

TEST_P(Engine, WrongGradOutputShapeIsRejected) {
  Var x(Tensor::zeros({3}, DType::f64, device()), true);
  Var y = mul(x, 2.0);
  EXPECT_THROW(grad({y}, {x}, {Var(Tensor::zeros({4}, DType::f64, device()))}), Error);
}

TEST(EngineChains, MillionOpChainNeitherOverflowsInBackwardNorInDestruction) {
  const int n = 1000000;
  Var x(Tensor::scalar(1.0, DType::f64), true);
  Var y = x;
  for (int i = 0; i < n; ++i) y = neg(y);
  EXPECT_EQ(grad(y, x).item(), 1.0);  // (-1)^n
  Var z = x;
  for (int i = 0; i < n; ++i) z = neg(z);
  z = Var();  // frees a million-node graph that nothing else holds
  SUCCEED();
}

}  // namespace
}  // namespace odegan::ad
