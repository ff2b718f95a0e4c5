// gradcheck for every differentiable function and gradgradcheck for every function the
// regulariser can reach (central differences in float64), plus the losses.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "autodiff/gradcheck.h"
#include "tests/common/test_util.h"

namespace odegan::ad {
namespace {

using testing::random_away_from_zero;
using testing::random_tensor;

struct Case {
  std::string name;
  DifferentiableFn f;
  std::vector<Tensor> inputs;
  bool second_order = true;  // can the regulariser reach it? then gradgradcheck too
  double kink = 0;           // skip coordinates near a non-differentiable point
};

Tensor rnd(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  return random_tensor(s, DType::f64, seed, lo, hi);
}
Tensor away(const Shape& s, uint64_t seed) { return random_away_from_zero(s, DType::f64, seed, 0.05); }
Tensor positive(const Shape& s, uint64_t seed) { return rnd(s, seed, 0.5, 2.0); }

kernels::Conv2dGeometry geom(int stride, int pad, int dil = 1) { return kernels::Conv2dGeometry::make(stride, pad, dil); }

std::vector<Case> cases() {
  std::vector<Case> c;
  auto one = [](Var (*fn)(const Var&)) { return [fn](const std::vector<Var>& v) { return fn(v[0]); }; };
  // elementwise
  c.push_back({"add_broadcast", [](auto& v) { return add(v[0], v[1]); }, {rnd({3, 4}, 1), rnd({4}, 2)}});
  c.push_back({"sub_broadcast", [](auto& v) { return sub(v[0], v[1]); }, {rnd({3, 1, 2}, 3), rnd({4, 2}, 4)}});
  c.push_back({"mul_broadcast", [](auto& v) { return mul(v[0], v[1]); }, {rnd({2, 3}, 5), rnd({2, 1}, 6)}});
  c.push_back({"div_broadcast", [](auto& v) { return div(v[0], v[1]); }, {rnd({2, 3}, 7), positive({3}, 8)}});
  c.push_back({"affine", [](auto& v) { return affine(v[0], -1.5, 0.25); }, {rnd({5}, 9)}});
  c.push_back({"neg", one(neg), {rnd({4}, 10)}});
  c.push_back({"exp", one(exp), {rnd({4}, 11)}});
  c.push_back({"log", one(log), {positive({4}, 12)}});
  c.push_back({"sqrt", one(sqrt), {positive({4}, 13)}});
  c.push_back({"rsqrt", one(rsqrt), {positive({4}, 14)}});
  c.push_back({"square", one(square), {rnd({4}, 15)}});
  c.push_back({"abs", one(abs), {away({6}, 16)}, true, 1e-3});
  c.push_back({"pow", [](auto& v) { return pow(v[0], 2.5); }, {positive({4}, 17)}});
  c.push_back({"relu", one(relu), {away({3, 5}, 18)}, true, 1e-3});
  c.push_back({"leaky_relu", [](auto& v) { return leaky_relu(v[0], 0.1); }, {away({3, 5}, 19)}, true, 1e-3});
  c.push_back({"tanh", one(tanh), {rnd({7}, 20, -2, 2)}});
  c.push_back({"sigmoid", one(sigmoid), {rnd({7}, 21, -4, 4)}});
  c.push_back({"softplus", one(softplus), {rnd({7}, 22, -4, 4)}});
  c.push_back({"log_sigmoid", one(log_sigmoid), {rnd({7}, 23, -4, 4)}});
  c.push_back({"silu", one(silu), {rnd({7}, 83, -4, 4)}});
  // fused activation backwards (as functions of (grad, x or y))
  c.push_back({"relu_backward", [](auto& v) { return relu_backward(v[0], v[1]); }, {rnd({6}, 24), away({6}, 25)},
               true, 1e-3});
  c.push_back({"leaky_relu_backward", [](auto& v) { return leaky_relu_backward(v[0], v[1], 0.2); },
               {rnd({6}, 26), away({6}, 27)}, true, 1e-3});
  c.push_back({"tanh_backward", [](auto& v) { return tanh_backward(v[0], v[1]); }, {rnd({6}, 28), rnd({6}, 29)}});
  c.push_back(
      {"sigmoid_backward", [](auto& v) { return sigmoid_backward(v[0], v[1]); }, {rnd({6}, 30), rnd({6}, 31)}});
  c.push_back({"silu_backward", [](auto& v) { return silu_backward(v[0], v[1]); }, {rnd({6}, 84), rnd({6}, 85, -3, 3)}});
  // reductions and shape
  c.push_back({"sum_all", [](auto& v) { return sum(v[0]); }, {rnd({2, 3, 4}, 32)}});
  c.push_back({"sum_axes_keepdim", [](auto& v) { return sum(v[0], {0, 2}, true); }, {rnd({2, 3, 4}, 33)}});
  c.push_back({"mean_axis", [](auto& v) { return mean(v[0], {-1}); }, {rnd({2, 3, 4}, 34)}});
  c.push_back({"sum_squares", [](auto& v) { return sum_squares(v[0]); }, {rnd({5, 2}, 35)}});
  c.push_back({"broadcast_to", [](auto& v) { return broadcast_to(v[0], {2, 3, 4}); }, {rnd({3, 1}, 36)}});
  c.push_back({"sum_to", [](auto& v) { return sum_to(v[0], {3, 1}); }, {rnd({2, 3, 4}, 37)}});
  c.push_back({"reshape", [](auto& v) { return mul(reshape(v[0], {6, 2}), v[1]); }, {rnd({3, 4}, 38), rnd({2}, 39)}});
  c.push_back({"flatten", [](auto& v) { return flatten(v[0]); }, {rnd({2, 3, 2}, 40)}});
  c.push_back({"concat", [](auto& v) { return concat({v[0], v[1]}, 1); }, {rnd({2, 3}, 41), rnd({2, 2}, 42)}});
  c.push_back({"slice_axis0", [](auto& v) { return slice(v[0], 0, 1, 3); }, {rnd({4, 3}, 43)}});
  c.push_back({"slice_axis1", [](auto& v) { return slice(v[0], 1, 1, 3); }, {rnd({2, 4, 2}, 44)}});
  c.push_back({"transpose", [](auto& v) { return transpose(v[0]); }, {rnd({2, 3, 4}, 45)}});
  // linear algebra
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      Shape sa = ta ? Shape{4, 3} : Shape{3, 4}, sb = tb ? Shape{5, 4} : Shape{4, 5};
      c.push_back({"matmul_" + std::to_string(ta) + std::to_string(tb),
                   [ta, tb](auto& v) { return matmul(v[0], v[1], ta, tb); }, {rnd(sa, 46 + ta), rnd(sb, 48 + tb)}});
    }
  c.push_back({"linear", [](auto& v) { return linear(v[0], v[1], v[2]); }, {rnd({4, 3}, 50), rnd({2, 3}, 51), rnd({2}, 52)}});
  // convolutions
  c.push_back({"conv2d", [](auto& v) { return conv2d(v[0], v[1], v[2], geom(1, 1)); },
               {rnd({2, 2, 5, 4}, 53), rnd({3, 2, 3, 3}, 54), rnd({3}, 55)}});
  c.push_back({"conv2d_stride_dilation", [](auto& v) { return conv2d(v[0], v[1], Var(), geom(2, 1, 2)); },
               {rnd({1, 2, 7, 6}, 56), rnd({2, 2, 3, 2}, 57)}});
  c.push_back({"conv_transpose2d", [](auto& v) { return conv_transpose2d(v[0], v[1], v[2], geom(2, 1)); },
               {rnd({2, 3, 3, 3}, 58), rnd({3, 2, 4, 4}, 59), rnd({2}, 60)}});
  c.push_back({"conv_transpose2d_output_padding",
               [](auto& v) { return conv_transpose2d(v[0], v[1], Var(), geom(2, 1), 1, 1); },
               {rnd({1, 2, 3, 3}, 61), rnd({2, 2, 3, 3}, 62)}});
  // normalisation (training mode: gradients through the batch statistics)
  c.push_back({"batch_norm_train_nchw",
               [](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-3); },
               {rnd({3, 2, 2, 3}, 63), rnd({2}, 64, 0.5, 1.5), rnd({2}, 65)}});
  c.push_back({"batch_norm_train_2d",
               [](auto& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-3); },
               {rnd({5, 3}, 66), rnd({3}, 67, 0.5, 1.5), rnd({3}, 68)}});
  c.push_back({"batch_norm_train_no_affine",
               [](auto& v) { return batch_norm(v[0], Var(), Var(), Tensor(), Tensor(), true, 0.1, 1e-3); },
               {rnd({4, 2, 2, 2}, 69)}});
  c.push_back({"batch_norm_inference",
               [](auto& v) {
                 return batch_norm(v[0], v[1], v[2], Tensor::from_vector<double>({0.1, -0.2}, {2}),
                                   Tensor::from_vector<double>({0.5, 2.0}, {2}), false, 0.1, 1e-3);
               },
               {rnd({3, 2, 2, 2}, 70), rnd({2}, 71), rnd({2}, 72)}});
  // pooling and resampling
  c.push_back({"avg_pool2d", [](auto& v) { return avg_pool2d(v[0], kernels::Pool2dGeometry::make(2, 2)); },
               {rnd({2, 2, 4, 5}, 73)}});
  c.push_back({"avg_pool2d_padded", [](auto& v) { return avg_pool2d(v[0], kernels::Pool2dGeometry::make(3, 2, 1)); },
               {rnd({1, 2, 5, 5}, 74)}});
  c.push_back({"max_pool2d", [](auto& v) { return max_pool2d(v[0], kernels::Pool2dGeometry::make(2, 2)); },
               {rnd({2, 2, 4, 4}, 75)}});
  c.push_back({"upsample_nearest2x", [](auto& v) { return upsample_nearest2x(v[0]); }, {rnd({2, 3, 2, 3}, 76)}});
  c.push_back({"resize_bilinear", [](auto& v) { return resize_bilinear(v[0], 7, 3); }, {rnd({2, 2, 4, 5}, 86)}});
  c.push_back({"resize_bilinear_same_size", [](auto& v) { return resize_bilinear(v[0], 3, 4); }, {rnd({1, 2, 3, 4}, 87)}});
  // embeddings
  c.push_back({"embedding",
               [](auto& v) { return embedding(v[0], Tensor::from_vector<int32_t>({2, 0, 2, 1}, {4})); },
               {rnd({3, 5}, 77)}});
  // losses
  c.push_back({"bce_real", [](auto& v) { return bce_with_logits(v[0], 1.0); }, {rnd({6, 1}, 78, -3, 3)}});
  c.push_back({"bce_fake", [](auto& v) { return bce_with_logits(v[0], 0.0); }, {rnd({6, 1}, 79, -3, 3)}});
  c.push_back({"bce_soft_label", [](auto& v) { return bce_with_logits(v[0], 0.3); }, {rnd({6, 1}, 80, -3, 3)}});
  c.push_back({"softmax_ce_2", [](auto& v) { return softmax_cross_entropy(v[0], 1); }, {rnd({5, 2}, 81, -3, 3)}});
  c.push_back({"softmax_ce_4", [](auto& v) { return softmax_cross_entropy(v[0], 2); }, {rnd({3, 4}, 82, -3, 3)}});
  return c;
}

class Functions : public ::testing::TestWithParam<size_t> {};

TEST_P(Functions, GradcheckAndGradgradcheck) {
  static const std::vector<Case> all = cases();
  const Case& c = all[GetParam()];
  SCOPED_TRACE(c.name);
  GradcheckOptions opt;
  opt.kink = c.kink;
  GradcheckResult r1 = gradcheck(c.f, c.inputs, opt);
  EXPECT_TRUE(r1.ok) << c.name << " gradcheck: " << r1.message;
  EXPECT_GT(r1.checked, 0);
  if (c.second_order) {
    GradcheckResult r2 = gradgradcheck(c.f, c.inputs, opt);
    EXPECT_TRUE(r2.ok) << c.name << " gradgradcheck: " << r2.message;
  }
}

INSTANTIATE_TEST_SUITE_P(All, Functions, ::testing::Range<size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& p) { return cases()[p.param].name; });

TEST(Gradcheck, DetectsAWrongRule) {
  // Same value as tanh(x) + x^2, but detach() hides half of the x^2 dependence from the
  // engine: the analytic gradient is then wrong and gradcheck must say so.
  auto right = [](const std::vector<Var>& v) { return add(tanh(v[0]), mul(v[0], v[0])); };
  auto wrong = [](const std::vector<Var>& v) { return add(tanh(v[0]), mul(v[0], v[0].detach())); };
  Tensor x = random_tensor({4}, DType::f64, 5);
  EXPECT_TRUE(gradcheck(right, {x}).ok);
  GradcheckResult r = gradcheck(wrong, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("analytic"), std::string::npos);
  EXPECT_TRUE(gradgradcheck(right, {x}).ok);
}

TEST(Losses, NashValues) {
  // At D(x) = 0 everywhere, l_D = log 4 and l_G (non-saturating) = log 2.
  Var zero(Tensor::zeros({8, 1}, DType::f64));
  double ld = add(bce_with_logits(zero, 1.0), bce_with_logits(zero, 0.0)).item();
  double lg = bce_with_logits(zero, 1.0).item();
  EXPECT_NEAR(ld, std::log(4.0), 1e-15);
  EXPECT_NEAR(lg, std::log(2.0), 1e-15);
  Var zero2(Tensor::zeros({8, 2}, DType::f64));
  EXPECT_NEAR(softmax_cross_entropy(zero2, 0).item(), std::log(2.0), 1e-15);
}

TEST(Losses, StableForLargeLogits) {
  Var big(Tensor::from_vector<double>({1000, -1000}, {2, 1}));
  EXPECT_NEAR(bce_with_logits(big, 1.0).item(), 500.0, 1e-9);
  Var logits(Tensor::from_vector<double>({1000, -1000, -1000, 1000}, {2, 2}));
  EXPECT_NEAR(softmax_cross_entropy(logits, 0).item(), 1000.0, 1e-9);
}

}  // namespace
}  // namespace odegan::ad
