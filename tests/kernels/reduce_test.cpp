// Reductions, broadcast_to / sum_to and shape ops against naive references written here.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/reduce.h"
#include "kernels/shape_ops.h"
#include "tests/common/test_util.h"

namespace odegan::kernels {
namespace {

using testing::kFloatTypes;
using testing::random_tensor;

// Naive reduction: for every input element, its output index with reduced axes dropped.
Tensor naive_reduce(Reduce op, const Tensor& x, std::vector<int> axes, bool keepdim) {
  const Shape& s = x.shape();
  if (axes.empty())
    for (int i = 0; i < s.ndim(); ++i) axes.push_back(i);
  for (int& a : axes) a = a < 0 ? a + s.ndim() : a;
  std::vector<bool> red(s.ndim(), false);
  for (int a : axes) red[a] = true;
  Shape out = reduced_shape(s, axes, keepdim);
  std::vector<double> v = x.to_vector<double>();
  std::vector<double> acc(static_cast<size_t>(out.numel()),
                          op == Reduce::max ? -std::numeric_limits<double>::infinity() : 0.0);
  std::vector<int64_t> cnt(acc.size(), 0);
  for (int64_t i = 0; i < s.numel(); ++i) {
    int64_t rem = i, o = 0, mul = 1;
    std::vector<int64_t> idx(s.ndim());
    for (int d = s.ndim() - 1; d >= 0; --d) {
      idx[d] = rem % s[d];
      rem /= s[d];
    }
    for (int d = s.ndim() - 1; d >= 0; --d) {
      if (red[d]) continue;
      o += idx[d] * mul;
      mul *= s[d];
    }
    double e = v[i];
    if (op == Reduce::max)
      acc[o] = std::max(acc[o], e);
    else if (op == Reduce::sum_squares)
      acc[o] += e * e;
    else
      acc[o] += e;
    ++cnt[o];
  }
  if (op == Reduce::mean)
    for (size_t k = 0; k < acc.size(); ++k) acc[k] /= double(cnt[k]);
  return Tensor::from_doubles(acc, out, DType::f64);
}

struct ReduceCase {
  Shape shape;
  std::vector<int> axes;
};

const std::vector<ReduceCase> kReduceCases = {
    {{7}, {}},           {{7}, {0}},           {{5, 3}, {0}},       {{5, 3}, {1}},      {{5, 3}, {-1}},
    {{4, 3, 5, 2}, {0, 2, 3}}, {{4, 3, 5, 2}, {1}}, {{4, 3, 5, 2}, {0, 3}}, {{2, 1, 3}, {1}}, {{3, 1, 1, 4}, {2, 3}},
    {{1031}, {}},        {{33, 65}, {0}},      {{2, 3, 4}, {2, 0}}, {{1, 1}, {}},       {{6, 1}, {0, 1}},
    {{200, 300}, {}}};

TEST(Reduce, SumMeanMaxMatchNaive) {
  int seed = 1;
  for (DType dt : kFloatTypes)
    for (Reduce op : {Reduce::sum, Reduce::mean, Reduce::max})
      for (const auto& c : kReduceCases)
        for (bool keep : {false, true}) {
          SCOPED_TRACE(c.shape.str() + " keepdim " + std::to_string(keep) + " op " + std::to_string(int(op)) + " " +
                       dtype_name(dt));
          Tensor x = random_tensor(c.shape, dt, seed++);
          Tensor got = reduce(op, x, c.axes, keep);
          Tensor want = naive_reduce(op, x, c.axes, keep);
          ASSERT_EQ(got.shape(), want.shape());
          double tol = dt == DType::f64 ? 1e-12 : 2e-6;
          EXPECT_TENSOR_NEAR(got, want.to(dt), tol, tol);
        }
}

TEST(Reduce, SumSquaresIsAScalar) {
  for (DType dt : kFloatTypes) {
    Tensor x = random_tensor({123, 7}, dt, 5);
    Tensor s = sum_squares(x);
    EXPECT_EQ(s.ndim(), 0);
    EXPECT_NEAR(s.item(), naive_reduce(Reduce::sum_squares, x, {}, false).item(), 1e-4);
  }
}

TEST(Reduce, LargeAllReduceIsAccurateAndThreadIndependent) {
  // 2^21 values of 0.1f: float accumulation would drift; ours accumulates in double.
  Tensor x = Tensor::full({1 << 21}, 0.1, DType::f32);
  EXPECT_NEAR(sum(x).item(), 0.1f * double(1 << 21), 1e-3);
}

TEST(Reduce, EmptyTensors) {
  Tensor e = Tensor::zeros({0, 3});
  EXPECT_EQ(sum(e).item(), 0.0);
  EXPECT_TRUE(std::isnan(mean(e).item()));
  EXPECT_EQ(sum(e, {0}).shape(), Shape({3}));
  EXPECT_THROW(max(e), Error);
}

TEST(Reduce, MaxPropagatesNaN) {
  Tensor x = Tensor::from_vector<float>({1, NAN, 3, 2}, {4});
  EXPECT_TRUE(std::isnan(max(x).item()));
  EXPECT_TRUE(std::isnan(sum(x).item()));
}

TEST(Reduce, BadArguments) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_THROW(sum(x, {2}), Error);
  EXPECT_THROW(sum(x, {-3}), Error);
  Tensor wrong = Tensor::empty({3});
  EXPECT_THROW(reduce(Reduce::sum, x, wrong, {1}, false), Error);
}

TEST(Broadcast, BroadcastToAndSumToAreAdjoint) {
  // <broadcast_to(x), y> == <x, sum_to(y)> in float64.
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{3}, {4, 3}}, {{4, 1}, {4, 5}}, {{1, 5, 1}, {2, 5, 3}}, {{}, {2, 2}}, {{2, 1, 3}, {4, 2, 6, 3}}};
  int seed = 40;
  for (const auto& [small, big] : pairs) {
    Tensor x = random_tensor(small, DType::f64, seed++);
    Tensor y = random_tensor(big, DType::f64, seed++);
    Tensor bx = broadcast_to(x, big);
    Tensor sy = sum_to(y, small);
    ASSERT_EQ(bx.shape(), big);
    ASSERT_EQ(sy.shape(), small);
    auto dot = [](const Tensor& a, const Tensor& b) {
      std::vector<double> u = a.to_vector<double>(), v = b.to_vector<double>();
      double s = 0;
      for (size_t i = 0; i < u.size(); ++i) s += u[i] * v[i];
      return s;
    };
    EXPECT_NEAR(dot(bx, y), dot(x, sy), 1e-12) << small.str() << " -> " << big.str();
  }
  EXPECT_THROW(broadcast_to(Tensor::zeros({3}), {4, 2}), Error);
  EXPECT_THROW(sum_to(Tensor::zeros({4, 2}), {3}), Error);
}

TEST(AllFinite, DetectsNaNAndInf) {
  EXPECT_TRUE(all_finite(Tensor::ones({100})));
  EXPECT_FALSE(all_finite(Tensor::from_vector<float>({1, INFINITY}, {2})));
  EXPECT_FALSE(all_finite(Tensor::from_vector<double>({NAN, 1}, {2})));
}

// ---------------------------------------------------------------- shape ops

TEST(ShapeOps, ConcatAndSliceAlongEveryAxis) {
  for (DType dt : kFloatTypes)
    for (int axis = 0; axis < 3; ++axis) {
      Shape sa{2, 3, 4}, sb = sa.with(axis, 5);
      Tensor a = random_tensor(sa, dt, 1), b = random_tensor(sb, dt, 2);
      Tensor c = concat({a, b}, axis);
      ASSERT_EQ(c.shape(), sa.with(axis, sa[axis] + 5));
      EXPECT_TENSOR_NEAR(slice_axis(c, axis, 0, sa[axis]), a, 0, 0);
      EXPECT_TENSOR_NEAR(slice_axis(c, axis, sa[axis], sa[axis] + 5), b, 0, 0);
      // Element check against index arithmetic.
      std::vector<double> cv = c.to_vector<double>(), av = a.to_vector<double>();
      Shape cs = c.shape();
      int64_t i = 1, j = 2, k = 3;  // an element of a
      EXPECT_EQ(cv[static_cast<size_t>((i * cs[1] + j) * cs[2] + k)], av[static_cast<size_t>((i * 3 + j) * 4 + k)]);
    }
  EXPECT_THROW(concat({Tensor::zeros({2, 3}), Tensor::zeros({3, 3})}, 1), Error);
  EXPECT_THROW(slice_axis(Tensor::zeros({2, 3}), 1, 2, 4), Error);
}

TEST(ShapeOps, SliceAssignWritesOnlyTheRegion) {
  Tensor out = Tensor::zeros({3, 4}, DType::f64);
  slice_axis_assign(Tensor::ones({3, 2}, DType::f64), 1, 1, out);
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0}));
  EXPECT_THROW(slice_axis_assign(Tensor::ones({3, 2}, DType::f64), 1, 3, out), Error);
}

TEST(ShapeOps, TransposeLastTwo) {
  for (DType dt : kFloatTypes) {
    Tensor x = random_tensor({3, 37, 45}, dt, 9);
    Tensor t = transpose_last2(x);
    ASSERT_EQ(t.shape(), Shape({3, 45, 37}));
    std::vector<double> xv = x.to_vector<double>(), tv = t.to_vector<double>();
    for (int b = 0; b < 3; ++b)
      for (int i = 0; i < 37; i += 5)
        for (int j = 0; j < 45; j += 7) EXPECT_EQ(tv[(b * 45 + j) * 37 + i], xv[(b * 37 + i) * 45 + j]);
    EXPECT_TENSOR_NEAR(transpose_last2(t), x, 0, 0);
  }
}

TEST(ShapeOps, EmbeddingGatherScatterAndOneHot) {
  for (DType dt : kFloatTypes) {
    Tensor table = random_tensor({5, 3}, dt, 3);
    Tensor idx = Tensor::from_vector<int32_t>({4, 0, 4, 2}, {4});
    Tensor g = embedding_gather(table, idx);
    std::vector<double> tv = table.to_vector<double>(), gv = g.to_vector<double>();
    const int rows[] = {4, 0, 4, 2};
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(gv[r * 3 + c], tv[rows[r] * 3 + c]);
    Tensor up = random_tensor({4, 3}, dt, 4);
    Tensor s = embedding_scatter_add(up, idx, 5);
    std::vector<double> uv = up.to_vector<double>(), sv = s.to_vector<double>();
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(sv[4 * 3 + c], uv[0 * 3 + c] + uv[2 * 3 + c], 1e-6);
      EXPECT_NEAR(sv[1 * 3 + c], 0, 0);
      EXPECT_NEAR(sv[2 * 3 + c], uv[3 * 3 + c], 0);
    }
    Tensor oh = one_hot(idx, 5, dt);
    EXPECT_EQ(oh.shape(), Shape({4, 5}));
    EXPECT_EQ(oh.to_vector<double>()[0 * 5 + 4], 1.0);
    EXPECT_NEAR(sum(oh).item(), 4.0, 0);
  }
  try {
    embedding_gather(Tensor::zeros({5, 3}), Tensor::from_vector<int32_t>({1, 7}, {2}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index 7"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- CUDA vs CPU

class ReduceCuda : public testing::CudaTest {};

TEST_F(ReduceCuda, ReductionsMatchCpu) {
  int seed = 300;
  for (DType dt : kFloatTypes)
    for (Reduce op : {Reduce::sum, Reduce::mean, Reduce::max, Reduce::sum_squares})
      for (const auto& c : kReduceCases) {
        Tensor x = random_tensor(c.shape, dt, seed++);
        std::vector<int> axes = op == Reduce::sum_squares ? std::vector<int>{} : c.axes;
        Tensor cpu = reduce(op, x, axes, true);
        Tensor gpu = reduce(op, x.to(Device::cuda()), axes, true);
        EXPECT_TENSOR_NEAR(gpu, cpu, dt == DType::f64 ? 1e-12 : 1e-6, 1e-6) << c.shape.str();
      }
  Tensor big = random_tensor({3000, 1000}, DType::f32, 7);
  EXPECT_NEAR(sum(big.to(Device::cuda())).item(), sum(big).item(), 1e-2);
  EXPECT_FALSE(all_finite(Tensor::from_vector<float>({1, NAN}, {2}, Device::cuda())));
  EXPECT_TRUE(all_finite(big.to(Device::cuda())));
}

TEST_F(ReduceCuda, BroadcastAndShapeOpsMatchCpu) {
  Device g = Device::cuda();
  for (DType dt : kFloatTypes) {
    Tensor x = random_tensor({1, 5, 1}, dt, 1);
    EXPECT_TENSOR_NEAR(broadcast_to(x.to(g), {3, 5, 4}), broadcast_to(x, {3, 5, 4}), 0, 0);
    Tensor y = random_tensor({3, 5, 4}, dt, 2);
    EXPECT_TENSOR_NEAR(sum_to(y.to(g), {1, 5, 1}), sum_to(y, {1, 5, 1}), 1e-6, 1e-6);
    Tensor a = random_tensor({2, 3, 4}, dt, 3), b = random_tensor({2, 2, 4}, dt, 4);
    EXPECT_TENSOR_NEAR(concat({a.to(g), b.to(g)}, 1), concat({a, b}, 1), 0, 0);
    EXPECT_TENSOR_NEAR(slice_axis(a.to(g), 2, 1, 3), slice_axis(a, 2, 1, 3), 0, 0);
    EXPECT_TENSOR_NEAR(transpose_last2(a.to(g)), transpose_last2(a), 0, 0);
    Tensor table = random_tensor({6, 4}, dt, 5);
    Tensor idx = Tensor::from_vector<int32_t>({5, 1, 5, 0, 2}, {5});
    EXPECT_TENSOR_NEAR(embedding_gather(table.to(g), idx.to(g)), embedding_gather(table, idx), 0, 0);
    Tensor up = random_tensor({5, 4}, dt, 6);
    EXPECT_TENSOR_NEAR(embedding_scatter_add(up.to(g), idx.to(g), 6), embedding_scatter_add(up, idx, 6), 1e-6, 1e-7);
    EXPECT_TENSOR_NEAR(one_hot(idx.to(g), 6, dt), one_hot(idx, 6, dt), 0, 0);
  }
}

}  // namespace
}  // namespace odegan::kernels
