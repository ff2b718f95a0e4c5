// Tests of the out-of-tree PReLU: the forward against the formula, first and second
// derivatives against finite differences in float64 (the framework's gradcheck and
// gradgradcheck), the layer's parameter in the model's flat buffer, and a clear error for
// a wrong shape. Built against the installed package, like the layer.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/engine.h"
#include "autodiff/gradcheck.h"
#include "core/rng.h"
#include "layers/layers.h"
#include "prelu.h"

using namespace odegan;
using ad::Var;

namespace {

// Values away from 0, where PReLU is not differentiable (finite differences would straddle
// the kink): |x| in [0.2, 2].
Tensor away_from_zero(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor t = Tensor::empty(shape, DType::f64);
  fill_uniform(t, gen, 0.2, 2.0);
  std::vector<double> v = t.to_vector<double>();
  for (size_t i = 0; i < v.size(); i += 2) v[i] = -v[i];
  return Tensor::from_doubles(v, shape, DType::f64);
}

TEST(PReLU, ForwardIsTheFormula) {
  Tensor x = Tensor::from_doubles({-2, -0.5, 0, 0.5, 3, -1}, {2, 3}, DType::f64);
  Tensor a = Tensor::from_doubles({0.1, 0.2, 0.3}, {3}, DType::f64);
  const std::vector<double> y = example::prelu(Var(x), Var(a)).data().to_vector<double>();
  const std::vector<double> expected = {-0.2, -0.1, 0, 0.5, 3, -0.3};
  ASSERT_EQ(y.size(), expected.size());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_DOUBLE_EQ(y[i], expected[i]) << i;
}

TEST(PReLU, FirstAndSecondDerivativesMatchFiniteDifferences) {
  auto f = [](const std::vector<Var>& v) { return example::prelu(v[0], v[1]); };
  const std::vector<Tensor> inputs = {away_from_zero({5, 3}, 1), away_from_zero({3}, 2)};
  ad::GradcheckResult first = ad::gradcheck(f, inputs);
  EXPECT_TRUE(first.ok) << first.message;
  // The second derivatives the ODE-GAN regulariser takes (d/da of dL/dx, and of dL/da).
  ad::GradcheckResult second = ad::gradgradcheck(f, inputs);
  EXPECT_TRUE(second.ok) << second.message;
  EXPECT_GT(second.checked, 0);
}

TEST(PReLU, LayerParameterLivesInTheFlatBufferAndGetsGradients) {
  auto net = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(4, 3, true, DType::f64), std::make_shared<example::PReLU>(3, 0.25, DType::f64),
      std::make_shared<nn::Linear>(3, 1, true, DType::f64)});
  Generator gen(3);
  net->reset_all(gen, nn::Init::reference);
  const auto named = net->named_parameters();
  ASSERT_EQ(named.size(), 5u);
  EXPECT_EQ(named[2].first, "1.slope");
  EXPECT_EQ(net->flat_parameters().numel(), 4 * 3 + 3 + 3 + 3 + 1);
  EXPECT_EQ(named[2].second.data().to_vector<double>(), std::vector<double>(3, 0.25));
  // Second derivatives through the whole network w.r.t. every parameter.
  const Var x(away_from_zero({6, 4}, 4));
  ad::GradcheckOptions opt;
  opt.kink = 1e-3;
  ad::GradcheckResult r = ad::gradgradcheck_leaves([&] { return (*net)(x); }, net->parameters(), opt);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(PReLU, WrongShapesAreAClearError) {
  const Var x(Tensor::zeros({2, 3}, DType::f64)), a(Tensor::zeros({4}, DType::f64));
  try {
    example::prelu(x, a);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("prelu: x must be (N, C) and a (C)"), std::string::npos) << e.what();
  }
}

}  // namespace
