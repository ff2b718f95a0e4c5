// gradcheck for every differentiable function and gradgradcheck for every function the
// regulariser can reach (central differences in float64), on every device: on CUDA the
// same rows also compare values and first and second derivatives with the CPU's. A test
// fails when a graph node of autodiff/nodes.h is exercised by no row. Plus the losses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "autodiff/gradcheck.h"
#include "autodiff/node.h"
#include "kernels/norm.h"
#include "tests/common/device_test.h"
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

// Constants a row needs (indices, statistics) are made on the device of its inputs.
Tensor on(const Var& like, const Tensor& t) { return t.to(like.device()); }
Tensor idx(const Var& like, const std::vector<int32_t>& v) { return on(like, Tensor::from_vector<int32_t>(v, {static_cast<int64_t>(v.size())})); }

// The argmax positions of max pooling `x` (a fixed tensor), on the device of `like`.
Tensor max_pool_indices(const Var& like, const Tensor& x, const kernels::Pool2dGeometry& g) {
  Shape ys = kernels::pool2d_output_shape(x.shape(), g);
  Tensor y = Tensor::empty(ys, x.dtype(), like.device());
  Tensor i = Tensor::empty(ys, DType::i32, like.device());
  kernels::max_pool2d_forward(x.to(like.device()), y, i, g);
  return i;
}

// The fused batch-norm backward as one output: concat(flat gx, ggamma, gbeta), with the
// batch statistics recomputed from the current x (they are functions of x).
Var batch_norm_backward_flat(const Var& gy, const Var& x, const Var& gamma, double eps) {
  const int64_t c = x.shape()[1];
  Tensor y = Tensor::empty_like(x.data()), m = Tensor::empty({c}, x.dtype(), x.device()),
         s = Tensor::empty({c}, x.dtype(), x.device()), no_mean, no_var;
  kernels::batch_norm_forward_training(x.data(), gamma.data(), Tensor::zeros({c}, x.dtype(), x.device()), eps, 0.1,
                                       no_mean, no_var, y, m, s);
  std::vector<Var> r = batch_norm_backward(gy, x, gamma, m, s, eps);
  return concat({reshape(r[0], {x.numel()}), r[1], r[2]}, 0);
}

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
  // Synchronised batch norm on one rank (its all-reduces are identities there; the
  // 2-rank checks are in tests/apps/parallel_test.cpp).
  c.push_back({"sync_batch_norm_nchw",
               [](auto& v) {
                 return sync_batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-3, Communicator::single());
               },
               {rnd({3, 2, 2, 2}, 90), rnd({2}, 91, 0.5, 1.5), rnd({2}, 92)}});
  c.push_back({"all_reduce_sum", [](auto& v) { return all_reduce_sum(v[0], Communicator::single()); }, {rnd({5}, 93)}});
  c.push_back({"batch_norm_train_no_affine",
               [](auto& v) { return batch_norm(v[0], Var(), Var(), Tensor(), Tensor(), true, 0.1, 1e-3); },
               {rnd({4, 2, 2, 2}, 69)}});
  c.push_back({"batch_norm_inference",
               [](auto& v) {
                 return batch_norm(v[0], v[1], v[2], on(v[0], Tensor::from_vector<double>({0.1, -0.2}, {2})),
                                   on(v[0], Tensor::from_vector<double>({0.5, 2.0}, {2})), false, 0.1, 1e-3);
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
               [](auto& v) { return embedding(v[0], idx(v[0], {2, 0, 2, 1})); },
               {rnd({3, 5}, 77)}});
  // the adjoints used by derivative rules, each a differentiable function of its own
  c.push_back({"conv2d_backward_data",
               [](auto& v) { return conv2d_backward_data(v[0], v[1], {2, 2, 5, 4}, geom(2, 1)); },
               {rnd({2, 3, 3, 2}, 86), rnd({3, 2, 3, 3}, 87)}});
  c.push_back({"conv2d_backward_filter",
               [](auto& v) { return conv2d_backward_filter(v[0], v[1], {3, 2, 3, 3}, geom(2, 1)); },
               {rnd({2, 2, 5, 4}, 88), rnd({2, 3, 3, 2}, 89)}});
  c.push_back({"batch_norm_backward_nchw", [](auto& v) { return batch_norm_backward_flat(v[0], v[1], v[2], 1e-3); },
               {rnd({3, 2, 2, 2}, 90), rnd({3, 2, 2, 2}, 91), rnd({2}, 92, 0.5, 1.5)}});
  c.push_back({"batch_norm_backward_2d", [](auto& v) { return batch_norm_backward_flat(v[0], v[1], v[2], 1e-3); },
               {rnd({4, 3}, 93), rnd({4, 3}, 94), rnd({3}, 95, 0.5, 1.5)}});
  c.push_back({"avg_pool2d_backward",
               [](auto& v) { return avg_pool2d_backward(v[0], {1, 2, 5, 5}, kernels::Pool2dGeometry::make(3, 2, 1)); },
               {rnd({1, 2, 3, 3}, 96)}});
  // Overlapping windows (stride < kernel): one input can be the maximum of several windows.
  c.push_back({"max_pool2d_overlapping",
               [](auto& v) { return max_pool2d(v[0], kernels::Pool2dGeometry::make(3, 2, 1)); },
               {rnd({1, 2, 5, 5}, 97)}});
  c.push_back({"max_pool2d_backward",
               [](auto& v) {
                 const auto g = kernels::Pool2dGeometry::make(3, 2, 1);
                 return max_pool2d_backward(v[0], max_pool_indices(v[0], rnd({1, 2, 5, 5}, 98), g), {1, 2, 5, 5}, g);
               },
               {rnd({1, 2, 3, 3}, 99)}});
  c.push_back({"max_pool2d_gather",
               [](auto& v) {
                 const auto g = kernels::Pool2dGeometry::make(3, 2, 1);
                 return max_pool2d_gather(v[0], max_pool_indices(v[0], rnd({1, 2, 5, 5}, 100), g), {1, 2, 3, 3}, g);
               },
               {rnd({1, 2, 5, 5}, 101)}});
  c.push_back({"upsample_nearest2x_backward", [](auto& v) { return upsample_nearest2x_backward(v[0]); },
               {rnd({2, 2, 4, 6}, 102)}});
  c.push_back({"slice_backward", [](auto& v) { return slice_backward(v[0], 1, 1, {2, 4, 3}); },
               {rnd({2, 2, 3}, 103)}});
  c.push_back({"embedding_backward", [](auto& v) { return embedding_backward(v[0], idx(v[0], {2, 0, 2, 1}), 4); },
               {rnd({4, 3}, 104)}});
  // losses
  c.push_back({"bce_real", [](auto& v) { return bce_with_logits(v[0], 1.0); }, {rnd({6, 1}, 78, -3, 3)}});
  c.push_back({"bce_fake", [](auto& v) { return bce_with_logits(v[0], 0.0); }, {rnd({6, 1}, 79, -3, 3)}});
  c.push_back({"bce_soft_label", [](auto& v) { return bce_with_logits(v[0], 0.3); }, {rnd({6, 1}, 80, -3, 3)}});
  c.push_back({"softmax_ce_2", [](auto& v) { return softmax_cross_entropy(v[0], 1); }, {rnd({5, 2}, 81, -3, 3)}});
  c.push_back({"softmax_ce_4", [](auto& v) { return softmax_cross_entropy(v[0], 2); }, {rnd({3, 4}, 82, -3, 3)}});
  return c;
}

const std::vector<Case>& all_cases() {
  static const std::vector<Case> all = cases();
  return all;
}

using RowParam = std::tuple<testing::DeviceCase, size_t>;
class Functions : public ::testing::TestWithParam<RowParam> {
 protected:
  void SetUp() override { ODEGAN_REQUIRE_DEVICE(std::get<0>(GetParam()).device); }
};

// On every device: first and second derivatives against central differences (computed on
// that device); on CUDA also value and derivatives against the CPU's.
TEST_P(Functions, GradcheckAndGradgradcheck) {
  const Case& c = all_cases()[std::get<1>(GetParam())];
  const Device dev = std::get<0>(GetParam()).device;
  SCOPED_TRACE(c.name);
  std::vector<Tensor> inputs;
  for (const Tensor& t : c.inputs) inputs.push_back(t.to(dev));
  GradcheckOptions opt;
  opt.kink = c.kink;
  GradcheckResult r1 = gradcheck(c.f, inputs, opt);
  EXPECT_TRUE(r1.ok) << c.name << " gradcheck: " << r1.message;
  EXPECT_GT(r1.checked, 0);
  if (c.second_order) {
    GradcheckResult r2 = gradgradcheck(c.f, inputs, opt);
    EXPECT_TRUE(r2.ok) << c.name << " gradgradcheck: " << r2.message;
  }
  if (dev.is_cuda()) {
    CompareOptions co;
    co.order = c.second_order ? 2 : 1;
    GradcheckResult r3 = compare_devices(c.f, c.inputs, dev, co);
    EXPECT_TRUE(r3.ok) << c.name << ": " << r3.message;
  }
}

INSTANTIATE_TEST_SUITE_P(All, Functions,
                         ::testing::Combine(::testing::ValuesIn(testing::device_cases()),
                                            ::testing::Range<size_t>(0, all_cases().size())),
                         [](const ::testing::TestParamInfo<RowParam>& p) {
                           return testing::device_case_name(std::get<0>(p.param)) + "_" +
                                  all_cases()[std::get<1>(p.param)].name;
                         });

// The nodes whose derivative rules the rows above run: those in each row's graph (checked
// by gradcheck) and, for second-order rows, those in the graph of its gradient (checked
// by gradgradcheck).
std::set<std::string> functions_with_rows() {
  std::set<std::string> covered;
  GradcheckOptions list;
  list.functions_only = true;
  for (const Case& c : all_cases()) {
    for (const std::string& n : gradcheck(c.f, c.inputs, list).functions) covered.insert(n);
    if (c.second_order)
      for (const std::string& n : gradgradcheck(c.f, c.inputs, list).functions) covered.insert(n);
  }
  return covered;
}

// Synchronised batch norm, composed of differentiable functions, is batch norm: on one
// rank its value, first and second derivatives and running statistics equal the fused
// batch_norm's (float64, to round-off), for NCHW, (N, C) and without affine parameters.
TEST(SyncBatchNorm, OnOneRankEqualsBatchNormToSecondOrder) {
  for (const Shape& s : {Shape{4, 3, 2, 2}, Shape{6, 3}}) {
    for (bool affine : {true, false}) {
      const Var x(rnd(s, 101), true), g(rnd({3}, 102, 0.5, 1.5), true), b(rnd({3}, 103), true);
      const Var gamma = affine ? g : Var(), beta = affine ? b : Var();
      Tensor rm1 = rnd({3}, 104), rv1 = rnd({3}, 105, 0.5, 2), rm2 = rm1.clone(), rv2 = rv1.clone();
      std::vector<Var> leaves = {x};
      if (affine) leaves.push_back(g), leaves.push_back(b);
      const Derivatives fused =
          derivatives([&] { return batch_norm(x, gamma, beta, Tensor(), Tensor(), true, 0.1, 1e-3); }, leaves);
      const Derivatives synced = derivatives(
          [&] { return sync_batch_norm(x, gamma, beta, Tensor(), Tensor(), true, 0.1, 1e-3, Communicator::single()); },
          leaves);
      EXPECT_TENSOR_NEAR(synced.value, fused.value, 1e-12, 1e-12);
      for (size_t i = 0; i < fused.first.size(); ++i) EXPECT_TENSOR_NEAR(synced.first[i], fused.first[i], 1e-11, 1e-11);
      for (size_t i = 0; i < fused.second.size(); ++i)
        EXPECT_TENSOR_NEAR(synced.second[i], fused.second[i], 1e-10, 1e-10);
      NoGradGuard no_grad;
      batch_norm(x, gamma, beta, rm1, rv1, true, 0.1, 1e-3);
      sync_batch_norm(x, gamma, beta, rm2, rv2, true, 0.1, 1e-3, Communicator::single());
      EXPECT_TENSOR_NEAR(rm2, rm1, 1e-14, 1e-14);
      EXPECT_TENSOR_NEAR(rv2, rv1, 1e-14, 1e-14);
    }
  }
}

TEST(FunctionRows, EveryGraphNodeHasAGradcheckRow) {
  // node_type_names() lists every ODEGAN_NODE of autodiff/nodes.h: a new differentiable
  // function fails here, by name, until cases() gets a row that exercises its rule.
  const std::vector<std::string> all = node_type_names();
  ASSERT_GT(all.size(), 40u);
  EXPECT_NE(std::find(all.begin(), all.end(), "MaxPoolGatherBackward"), all.end());
  const std::set<std::string> covered = functions_with_rows();
  std::string missing;
  for (const std::string& n : all)
    if (!covered.count(n)) missing += " " + n;
  EXPECT_TRUE(missing.empty()) << "graph nodes with no gradcheck row in tests/autodiff/functions_test.cpp:" << missing;
}

TEST(FunctionRows, GraphNodeNamesSeeTheWholeGraph) {
  Var x(random_tensor({3}, DType::f64, 1), true);
  Var y = sum(mul(tanh(x), exp(x)));
  EXPECT_EQ(graph_node_names({y}), (std::vector<std::string>{"ExpBackward", "MulBackward", "SumBackward", "TanhBackward"}));
  EXPECT_TRUE(graph_node_names({Var(Tensor::zeros({2}, DType::f64))}).empty());
}

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
  // The backend comparison notices the wrong rule too (in the first derivative; the values agree).
  std::vector<Var> a{Var(x.clone(), true)}, b{Var(x.clone(), true)};
  GradcheckResult same = compare(derivatives([&] { return right(a); }, a), derivatives([&] { return right(b); }, b));
  EXPECT_TRUE(same.ok) << same.message;
  EXPECT_EQ(same.checked, 4 + 4 + 4 + 4);  // value, first, second w.r.t. x and v
  GradcheckResult differ = compare(derivatives([&] { return wrong(a); }, a), derivatives([&] { return right(b); }, b));
  EXPECT_FALSE(differ.ok);
  EXPECT_NE(differ.message.find("first derivative"), std::string::npos) << differ.message;
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
