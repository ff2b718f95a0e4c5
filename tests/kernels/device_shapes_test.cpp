// Shapes at the edges, on every device: empty tensors through every kernel family, and
// (CUDA against the CPU) launches past 65 535 blocks, reductions with more than 65 535
// outputs, per-plane kernels over more than 65 535 planes; a device index that does not
// exist is refused with a clear error; device tensors round-trip through safetensors.
#include <gtest/gtest.h>

#include <cmath>

#include "core/safetensors.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/matmul.h"
#include "kernels/norm.h"
#include "kernels/pool.h"
#include "kernels/reduce.h"
#include "kernels/shape_ops.h"
#include "tests/common/device_test.h"

namespace odegan::kernels {
namespace {

using testing::DeviceTest;
using testing::random_tensor;

class EmptyTensors : public DeviceTest {};
ODEGAN_INSTANTIATE_DEVICES_AND_DTYPES(EmptyTensors);

TEST_P(EmptyTensors, EveryKernelFamilyAcceptsThem) {
  const Device dev = device();
  const DType dt = dtype();
  Tensor e = Tensor::empty({0, 3}, dt, dev);
  // Elementwise, fills and copies: nothing to do, shapes kept.
  EXPECT_EQ(unary(Unary::tanh, e).shape(), Shape({0, 3}));
  EXPECT_EQ(binary(Binary::add, e, Tensor::ones({3}, dt, dev)).shape(), Shape({0, 3}));
  e.fill_(1.0);
  Tensor c = e.clone();
  c.copy_(e);
  EXPECT_EQ(e.to(Device::cpu()).numel(), 0);
  EXPECT_EQ(Tensor::empty({0}, dt).to(dev).device(), dev);
  Tensor out = Tensor::empty({0, 3}, dt, dev);
  lincomb(out, 2.0, e, {{1.0, e}});
  // Reductions: over an empty axis a sum is 0 for every output; an empty result is empty.
  EXPECT_TENSOR_NEAR(sum(e, {0}).to(Device::cpu()), Tensor::zeros({3}, dt), 0, 0);
  EXPECT_EQ(sum(e, {1}).shape(), Shape({0}));
  EXPECT_EQ(sum(e).item(), 0.0);
  EXPECT_EQ(sum_squares(e).item(), 0.0);
  EXPECT_TRUE(all_finite(e));
  // Shape operations.
  Tensor x = random_tensor({2, 3}, dt, 1, -1, 1, dev);
  EXPECT_TENSOR_NEAR(concat({e, x}, 0).to(Device::cpu()), x.to(Device::cpu()), 0, 0);
  EXPECT_EQ(slice_axis(x, 0, 1, 1).shape(), Shape({0, 3}));
  EXPECT_EQ(transpose_last2(e).shape(), Shape({3, 0}));
  Tensor no_idx = Tensor::empty({0}, DType::i32, dev);
  EXPECT_EQ(embedding_gather(x, no_idx).shape(), Shape({0, 3}));
  EXPECT_TENSOR_NEAR(embedding_scatter_add(e, no_idx, 4).to(Device::cpu()), Tensor::zeros({4, 3}, dt), 0, 0);
  // A matrix product with an empty inner dimension is all zeros (beta = 0).
  Tensor a = Tensor::empty({4, 0}, dt, dev), b = Tensor::empty({0, 5}, dt, dev);
  Tensor p = Tensor::full({4, 5}, 7.0, dt, dev);
  gemm(a, false, b, false, p, 1.0, 0.0);
  EXPECT_TENSOR_NEAR(p.to(Device::cpu()), Tensor::zeros({4, 5}, dt), 0, 0);
  // Pooling and upsampling of an empty batch.
  Tensor imgs = Tensor::empty({0, 2, 4, 4}, dt, dev);
  Tensor pooled = Tensor::empty({0, 2, 2, 2}, dt, dev), idx = Tensor::empty({0, 2, 2, 2}, DType::i32, dev);
  max_pool2d_forward(imgs, pooled, idx, Pool2dGeometry::make(2, 2));
  avg_pool2d_forward(imgs, pooled, Pool2dGeometry::make(2, 2));
  Tensor up = Tensor::empty({0, 2, 8, 8}, dt, dev);
  upsample_nearest2x(imgs, up);
}

// ---------------------------------------------------------------- big shapes, CUDA vs CPU

class BigShapesCuda : public DeviceTest {};
ODEGAN_INSTANTIATE_CUDA(BigShapesCuda);

constexpr int64_t kMany = 70000;  // > 65 535: past the y/z grid limit and any 16-bit count

TEST_P(BigShapesCuda, ElementwisePastSixtyFiveThousandBlocks) {
  // 70 000 x 256 elements: more than 65 535 blocks of 256 threads.
  const Device g = device();
  Tensor x = random_tensor({kMany, 256}, DType::f64, 1), bias = random_tensor({256}, DType::f64, 2);
  Tensor xg = x.to(g);
  // Tolerances as in elementwise_test.cpp: CUDA's tanh and glibc's differ by an ulp or two.
  EXPECT_TENSOR_NEAR(unary(Unary::tanh, xg), unary(Unary::tanh, x), 1e-14, 1e-15);
  EXPECT_TENSOR_NEAR(binary(Binary::add, xg, bias.to(g)), binary(Binary::add, x, bias), 1e-15, 1e-15);
  Tensor o = Tensor::empty_like(x), og = Tensor::empty_like(xg);
  lincomb(o, 0.5, x, {{2.0, x}, {-1.0, x}, {0.25, x}, {3.0, x}, {1.0, x}});
  lincomb(og, 0.5, xg, {{2.0, xg}, {-1.0, xg}, {0.25, xg}, {3.0, xg}, {1.0, xg}});
  // Six terms up to 3|x|: a few ulp of 6 apart when one side contracts to fused multiply-adds.
  EXPECT_TENSOR_NEAR(og, o, 1e-14, 1e-14);
}

TEST_P(BigShapesCuda, ReductionsWithMoreThanSixtyFiveThousandOutputs) {
  const Device g = device();
  Tensor rows = random_tensor({kMany, 3}, DType::f64, 3);      // reduce the last axis: 70 000 outputs
  Tensor cols = random_tensor({3, kMany}, DType::f64, 4);      // reduce the first axis: 70 000 outputs
  Tensor mid = random_tensor({kMany, 5, 2}, DType::f64, 5);    // reduce a middle axis
  EXPECT_TENSOR_NEAR(sum(rows.to(g), {1}), sum(rows, {1}), 1e-14, 1e-15);
  EXPECT_TENSOR_NEAR(max(rows.to(g), {1}), max(rows, {1}), 0, 0);
  EXPECT_TENSOR_NEAR(sum(cols.to(g), {0}), sum(cols, {0}), 1e-14, 1e-15);
  EXPECT_TENSOR_NEAR(mean(mid.to(g), {1}), mean(mid, {1}), 1e-14, 1e-15);
  EXPECT_TENSOR_NEAR(sum_to(mid.to(g), {kMany, 1, 2}), sum_to(mid, {kMany, 1, 2}), 1e-14, 1e-15);
  // One output over many inputs: 70 000 x 256 terms, summed in different orders (bound:
  // 1e-12 of the sum of magnitudes, far below one missing block of 256 terms).
  Tensor big = random_tensor({kMany * 256}, DType::f64, 6);
  const double sum_abs = sum(unary(Unary::abs, big)).item(), ss = sum_squares(big).item();
  EXPECT_NEAR(sum(big.to(g)).item(), sum(big).item(), 1e-12 * sum_abs);
  EXPECT_NEAR(sum_squares(big.to(g)).item(), ss, 1e-12 * ss);
}

TEST_P(BigShapesCuda, PerPlaneAndPerRowKernelsOverSixtyFiveThousandPlanes) {
  const Device g = device();
  // Pooling and upsampling over 70 000 (n, c) planes.
  Tensor x = random_tensor({kMany, 1, 4, 4}, DType::f64, 7);
  const Pool2dGeometry pg = Pool2dGeometry::make(2, 2);
  Tensor y = Tensor::empty({kMany, 1, 2, 2}, DType::f64), i = Tensor::empty({kMany, 1, 2, 2}, DType::i32);
  Tensor yg = Tensor::empty({kMany, 1, 2, 2}, DType::f64, g), ig = Tensor::empty({kMany, 1, 2, 2}, DType::i32, g);
  max_pool2d_forward(x, y, i, pg);
  max_pool2d_forward(x.to(g), yg, ig, pg);
  EXPECT_TENSOR_NEAR(yg, y, 0, 0);
  EXPECT_EQ(ig.to_vector<int32_t>(), i.to_vector<int32_t>());
  avg_pool2d_forward(x, y, pg);
  avg_pool2d_forward(x.to(g), yg, pg);
  EXPECT_TENSOR_NEAR(yg, y, 1e-15, 1e-15);
  Tensor u = Tensor::empty({kMany, 1, 8, 8}, DType::f64), ug = Tensor::empty({kMany, 1, 8, 8}, DType::f64, g);
  upsample_nearest2x(x, u);
  upsample_nearest2x(x.to(g), ug);
  EXPECT_TENSOR_NEAR(ug, u, 0, 0);
  // Batch norm with 70 000 channels (one statistic per channel).
  Tensor bx = random_tensor({4, kMany}, DType::f64, 8), gamma = random_tensor({kMany}, DType::f64, 9),
         beta = random_tensor({kMany}, DType::f64, 10);
  Tensor by = Tensor::empty_like(bx), m = Tensor::empty({kMany}, DType::f64), s = Tensor::empty({kMany}, DType::f64);
  Tensor byg = Tensor::empty_like(bx.to(g)), mg = m.to(g), sg = s.to(g), none1, none2, none3, none4;
  batch_norm_forward_training(bx, gamma, beta, 1e-5, 0.1, none1, none2, by, m, s);
  batch_norm_forward_training(bx.to(g), gamma.to(g), beta.to(g), 1e-5, 0.1, none3, none4, byg, mg, sg);
  EXPECT_TENSOR_NEAR(byg, by, 1e-11, 1e-12);
  EXPECT_TENSOR_NEAR(mg, m, 1e-14, 1e-15);
  // Embedding rows and one-hot rows: 70 000 lookups.
  std::vector<int32_t> idx(kMany);
  for (int64_t k = 0; k < kMany; ++k) idx[k] = static_cast<int32_t>((k * 7919) % 13);
  Tensor ind = Tensor::from_vector<int32_t>(idx, {kMany});
  Tensor table = random_tensor({13, 3}, DType::f64, 11), gy = random_tensor({kMany, 3}, DType::f64, 12);
  EXPECT_TENSOR_NEAR(embedding_gather(table.to(g), ind.to(g)), embedding_gather(table, ind), 0, 0);
  EXPECT_TENSOR_NEAR(embedding_scatter_add(gy.to(g), ind.to(g), 13), embedding_scatter_add(gy, ind, 13), 1e-12,
                     1e-12);
  EXPECT_TENSOR_NEAR(one_hot(ind.to(g), 13, DType::f64), one_hot(ind, 13, DType::f64), 0, 0);
  // A transpose of a tall matrix and a concatenation of long rows.
  Tensor t = random_tensor({3, kMany}, DType::f64, 13);
  EXPECT_TENSOR_NEAR(transpose_last2(t.to(g)), transpose_last2(t), 0, 0);
  EXPECT_TENSOR_NEAR(concat({t.to(g), t.to(g)}, 1), concat({t, t}, 1), 0, 0);
  // A convolution over a batch of 70 000 images (cuDNN against the CPU's im2col).
  Tensor w = random_tensor({2, 1, 3, 3}, DType::f64, 14);
  const Conv2dGeometry cg = Conv2dGeometry::make(1, 1);
  EXPECT_TENSOR_NEAR(conv2d_forward(x.to(g), w.to(g), cg), conv2d_forward(x, w, cg), 1e-12, 1e-13);
}

TEST_P(BigShapesCuda, AMissingDeviceIndexIsRefusedCleanly) {
  if (cuda_device_count() >= 2) GTEST_SKIP() << "this machine has " << cuda_device_count() << " GPUs: cuda:1 exists";
  bool threw = false;
  try {
    Tensor t = Tensor::zeros({4}, DType::f32, Device::cuda(1));
  } catch (const Error& e) {
    threw = true;
    const std::string m = e.what();
    EXPECT_TRUE(m.find("cuda:1") != std::string::npos || m.find("invalid device") != std::string::npos) << m;
  }
  EXPECT_TRUE(threw) << "allocating on cuda:1 with one GPU must throw odegan::Error";
  EXPECT_THROW(Tensor::ones({4}, DType::f32).to(Device::cuda(1)), Error);
  // The refusal left no sticky error behind: cuda:0 still works.
  Tensor ok = Tensor::full({4}, 2.0, DType::f32, device());
  EXPECT_EQ(sum(ok).item(), 8.0);
}

TEST_P(BigShapesCuda, DeviceTensorsRoundTripThroughSafetensors) {
  const std::string path = testing::temp_dir() + "/device.safetensors";
  TensorMap m;
  m["a"] = random_tensor({3, 5}, DType::f32, 15, -1, 1, device());
  m["b"] = random_tensor({7}, DType::f64, 16, -1, 1, device());
  m["c"] = Tensor::from_vector<int32_t>({1, -2, 3}, {3}, device());
  m["view"] = m["b"].view(2, {4});  // a view at an offset into device storage
  save_safetensors(path, m);
  TensorMap back = load_safetensors(path);
  ASSERT_EQ(back.size(), m.size());
  for (auto& [name, t] : m) {
    const Tensor& r = back.at(name);
    EXPECT_TRUE(r.device().is_cpu()) << name;
    EXPECT_EQ(r.dtype(), t.dtype()) << name;
    EXPECT_EQ(r.shape(), t.shape()) << name;
    if (t.dtype() == DType::i32)
      EXPECT_EQ(r.to_vector<int32_t>(), t.to_vector<int32_t>()) << name;
    else
      EXPECT_EQ(r.to_vector<double>(), t.to_vector<double>()) << name;
  }
}

}  // namespace
}  // namespace odegan::kernels
