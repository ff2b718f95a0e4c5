// The CUDA defects of issue 11, each with a test that catches it on a GPU, and its CPU
// analogue where one exists: lincomb with a later term aliasing the output, overlapping
// copies (memmove semantics on both backends), checked int narrowing for cuDNN, the cuDNN
// algorithm rules (determinism, no TF32 for float32), device-side index checks (no host
// copy), pinned uploads, thread-safe handle creation, and a storage destructor that
// survives a sticky CUDA error. Death tests run in a fresh process (threadsafe style) and
// are left out of the sanitizer runs (scripts/gpu-check): one makes an illegal access.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "core/staging.h"
#include "core/sync_count.h"
#include "kernels/config.h"
#include "kernels/conv.h"
#include "kernels/cudnn_rules.h"
#include "kernels/elementwise.h"
#include "kernels/shape_ops.h"
#include "tests/common/test_util.h"
#ifdef ODEGAN_WITH_CUDA
#include "core/cuda/context.h"
#include "kernels/cuda/conv.h"
#include "kernels/cuda/shape_ops.h"
#endif

namespace odegan::kernels {
namespace {

using testing::random_tensor;

// ---------------------------------------------------------------- lincomb aliasing

// out = c0 x0 + sum c_i k_i with six terms (two passes), two of them `out` itself (one
// in the second pass), against the same sum of the original values in double.
void lincomb_later_term_aliases_output(Device dev) {
  const int64_t n = 3000;
  Tensor out = random_tensor({n}, DType::f64, 1, -1, 1, dev);
  Tensor x0 = random_tensor({n}, DType::f64, 2, -1, 1, dev);
  std::vector<Tensor> k;
  for (int i = 0; i < 4; ++i) k.push_back(random_tensor({n}, DType::f64, 10 + static_cast<uint64_t>(i), -1, 1, dev));
  const std::vector<double> o = out.to_vector<double>(), x = x0.to_vector<double>();
  std::vector<std::vector<double>> kv;
  for (const Tensor& t : k) kv.push_back(t.to_vector<double>());
  const double c0 = 0.5, c[6] = {1.0, -2.0, 0.25, 3.0, 1.5, -0.75};
  // terms: k0, out, k1, k2, k3, out  (the last one is in the second pass)
  lincomb(out, c0, x0, {{c[0], k[0]}, {c[1], out}, {c[2], k[1]}, {c[3], k[2]}, {c[4], k[3]}, {c[5], out}});
  std::vector<double> want(static_cast<size_t>(n));
  for (size_t i = 0; i < want.size(); ++i)
    want[i] = c0 * x[i] + c[0] * kv[0][i] + c[1] * o[i] + c[2] * kv[1][i] + c[3] * kv[2][i] + c[4] * kv[3][i] +
              c[5] * o[i];
  EXPECT_TENSOR_NEAR(out.to(Device::cpu()), Tensor::from_vector(want, {n}), 1e-13, 1e-13);
}

// A term that overlaps the output at another offset (out = buf[1:], k = buf[:-1]).
void lincomb_partial_overlap(Device dev) {
  const int64_t n = 1 << 16;
  Tensor buf = random_tensor({n + 1}, DType::f64, 3, -1, 1, dev);
  const std::vector<double> b = buf.to_vector<double>();
  Tensor out = buf.view(1, {n}), k = buf.view(0, {n}), x0 = random_tensor({n}, DType::f64, 4, -1, 1, dev);
  const std::vector<double> x = x0.to_vector<double>();
  lincomb(out, 2.0, x0, {{-1.0, k}});
  std::vector<double> want(static_cast<size_t>(n));
  for (size_t i = 0; i < want.size(); ++i) want[i] = 2.0 * x[i] - b[i];
  EXPECT_TENSOR_NEAR(out.to(Device::cpu()), Tensor::from_vector(want, {n}), 1e-14, 1e-14);
}

TEST(CudaDefects, LincombLaterTermAliasesOutputCpu) { lincomb_later_term_aliases_output(Device::cpu()); }
TEST(CudaDefects, LincombLaterTermAliasesOutputCuda) {
  ODEGAN_REQUIRE_CUDA();
  lincomb_later_term_aliases_output(Device::cuda(0));
}
TEST(CudaDefects, LincombPartialOverlapCpu) { lincomb_partial_overlap(Device::cpu()); }
TEST(CudaDefects, LincombPartialOverlapCuda) {
  ODEGAN_REQUIRE_CUDA();
  lincomb_partial_overlap(Device::cuda(0));
}

// ---------------------------------------------------------------- overlapping copies

// copy_ between overlapping views of one buffer, both directions, 4 MB (many copy
// chunks on a GPU): the destination gets the source's values from before the copy.
void overlapping_copies(Device dev) {
  const int64_t n = 1 << 20, shift = 1000;
  for (int dir = 0; dir < 2; ++dir) {
    Tensor buf = random_tensor({n}, DType::f32, 5 + static_cast<uint64_t>(dir), -1, 1, dev);
    const std::vector<float> b = buf.to_vector<float>();
    Tensor lo = buf.view(0, {n - shift}), hi = buf.view(shift, {n - shift});
    std::vector<float> want = b;
    if (dir == 0) {
      hi.copy_(lo);  // forward: dst after src
      std::memmove(want.data() + shift, b.data(), sizeof(float) * static_cast<size_t>(n - shift));
    } else {
      lo.copy_(hi);
      std::memmove(want.data(), b.data() + shift, sizeof(float) * static_cast<size_t>(n - shift));
    }
    EXPECT_EQ(buf.to_vector<float>(), want) << (dir == 0 ? "forward" : "backward") << " overlap";
  }
  // A copy onto itself changes nothing.
  Tensor t = random_tensor({100}, DType::f32, 7, -1, 1, dev);
  const std::vector<float> before = t.to_vector<float>();
  t.copy_(t);
  EXPECT_EQ(t.to_vector<float>(), before);
}

TEST(CudaDefects, OverlappingCopiesCpu) { overlapping_copies(Device::cpu()); }
TEST(CudaDefects, OverlappingCopiesCuda) {
  ODEGAN_REQUIRE_CUDA();
  overlapping_copies(Device::cuda(0));
}

// ---------------------------------------------------------------- cuDNN host-side rules

TEST(CudaDefects, CudnnDimsNarrowingIsChecked) {
  EXPECT_EQ(cudnn_dims(Shape{2, 3, 4, 5}, "conv2d", "input"), (std::array<int, 4>{2, 3, 4, 5}));
  EXPECT_EQ(cudnn_dims(Shape{1, 1, 1, 2147483647}, "conv2d", "input")[3], 2147483647);
  for (Shape s : {Shape{1, 1, 1, int64_t(1) << 31}, Shape{2, 65536, 65536, 1}, Shape{3, 1, 46341, 46341}}) {
    try {
      cudnn_dims(s, "conv2d_backward_data", "input gradient");
      ADD_FAILURE() << "no error for " << s.str();
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("conv2d_backward_data"), std::string::npos) << m;
      EXPECT_NE(m.find("input gradient " + s.str()), std::string::npos) << m;
    }
  }
  EXPECT_THROW(cudnn_dims(Shape{2, 3, 4}, "conv2d", "input"), Error);
}

TEST(CudaDefects, CudnnMathRules) {
  // float32 without TF32: FMA only; DEFAULT (may be TF32 on Ampere+) is forced to FMA.
  EXPECT_EQ(conv_run_math(ConvMath::fma, DType::f32, false), ConvMath::fma);
  EXPECT_EQ(conv_run_math(ConvMath::default_math, DType::f32, false), ConvMath::fma);
  EXPECT_FALSE(conv_run_math(ConvMath::tensor_op, DType::f32, false).has_value());
  EXPECT_FALSE(conv_run_math(ConvMath::tensor_op_allow_conversion, DType::f32, false).has_value());
  // TF32 allowed, or float64: as reported.
  EXPECT_EQ(conv_run_math(ConvMath::tensor_op, DType::f32, true), ConvMath::tensor_op);
  EXPECT_EQ(conv_run_math(ConvMath::default_math, DType::f32, true), ConvMath::default_math);
  EXPECT_EQ(conv_run_math(ConvMath::default_math, DType::f64, false), ConvMath::default_math);
}

TEST(CudaDefects, CudnnCandidateOrderAndFilters) {
  const std::vector<ConvCandidate> listed = {
      {7, true, false, ConvMath::fma},         // fastest, not deterministic
      {6, false, true, ConvMath::fma},         // failed
      {5, true, true, ConvMath::tensor_op},    // TF32
      {1, true, true, ConvMath::default_math}, // deterministic, may be TF32 -> FMA
      {0, true, true, ConvMath::fma}};
  auto algos = [](const std::vector<std::pair<ConvCandidate, ConvMath>>& u) {
    std::vector<int> a;
    for (const auto& [c, m] : u) a.push_back(c.algo * 10 + static_cast<int>(m));
    return a;
  };
  const int fma = static_cast<int>(ConvMath::fma), tc = static_cast<int>(ConvMath::tensor_op),
            def = static_cast<int>(ConvMath::default_math);
  EXPECT_EQ(algos(conv_usable(listed, DType::f32, false, false)), (std::vector<int>{70 + fma, 10 + fma, 0 + fma}));
  EXPECT_EQ(algos(conv_usable(listed, DType::f32, true, false)), (std::vector<int>{10 + fma, 0 + fma}));
  EXPECT_EQ(algos(conv_usable(listed, DType::f32, true, true)), (std::vector<int>{50 + tc, 10 + def, 0 + fma}));
  EXPECT_EQ(algos(conv_usable(listed, DType::f64, false, false)), (std::vector<int>{70 + fma, 50 + tc, 10 + def, 0 + fma}));
}

// ---------------------------------------------------------------- cuDNN on the device

struct ModeGuard {
  bool det = deterministic(), tf32 = allow_tf32();
  ~ModeGuard() {
    set_deterministic(det);
    set_allow_tf32(tf32);
  }
};

// float32 convolutions (forward, both backwards) against float64 on the CPU: FMA math
// errs ~1e-6 here, TF32 ~1e-3 (10-bit mantissas), so the bounds tell them apart.
void conv_f32_against_f64(bool det) {
  ModeGuard mode;
  set_deterministic(det);
  set_allow_tf32(false);
#ifdef ODEGAN_WITH_CUDA
  cuda::clear_conv_algorithm_cache();
#endif
  Conv2dGeometry g;
  g.pad_h = g.pad_w = 1;
  Tensor x = random_tensor({8, 64, 16, 16}, DType::f32, 20), w = random_tensor({64, 64, 3, 3}, DType::f32, 21);
  Tensor gy = random_tensor({8, 64, 16, 16}, DType::f32, 22);
  const Device d = Device::cuda(0);
  Tensor y = conv2d_forward(x.to(d), w.to(d), g).to(Device::cpu());
  Tensor gx = conv2d_backward_data(gy.to(d), w.to(d), x.shape(), g).to(Device::cpu());
  Tensor gw = conv2d_backward_filter(x.to(d), gy.to(d), w.shape(), g).to(Device::cpu());
  Tensor y64 = conv2d_forward(x.to(DType::f64), w.to(DType::f64), g);
  Tensor gx64 = conv2d_backward_data(gy.to(DType::f64), w.to(DType::f64), x.shape(), g);
  Tensor gw64 = conv2d_backward_filter(x.to(DType::f64), gy.to(DType::f64), w.shape(), g);
  // |y| ~ 8 (576 terms of ~1/3); |gw| ~ 15 (2048 terms).
  EXPECT_TENSOR_NEAR(y.to(DType::f64), y64, 0.0, 3e-4);
  EXPECT_TENSOR_NEAR(gx.to(DType::f64), gx64, 0.0, 3e-4);
  EXPECT_TENSOR_NEAR(gw.to(DType::f64), gw64, 0.0, 1e-3);
}

TEST(CudaDefects, ConvFloat32IsFullPrecisionCuda) {
  ODEGAN_REQUIRE_CUDA();
  conv_f32_against_f64(false);
}
TEST(CudaDefects, ConvFloat32IsFullPrecisionDeterministicCuda) {
  ODEGAN_REQUIRE_CUDA();
  conv_f32_against_f64(true);
}

// Deterministic mode: the algorithms are chosen afresh (cache cleared) three times and
// every result has the same bits; the backward filter and data sums are where
// non-deterministic (atomic) algorithms would differ.
TEST(CudaDefects, DeterministicConvSameBitsCuda) {
  ODEGAN_REQUIRE_CUDA();
#ifdef ODEGAN_WITH_CUDA
  ModeGuard mode;
  set_deterministic(true);
  const Device d = Device::cuda(0);
  Conv2dGeometry g;
  g.stride_h = g.stride_w = 2;
  g.pad_h = g.pad_w = 1;
  Tensor x = random_tensor({32, 32, 32, 32}, DType::f32, 30, -1, 1, d);
  Tensor w = random_tensor({64, 32, 4, 4}, DType::f32, 31, -1, 1, d);
  Tensor gy = random_tensor({32, 64, 16, 16}, DType::f32, 32, -1, 1, d);
  std::vector<float> first_w, first_x, first_y;
  for (int run = 0; run < 3; ++run) {
    cuda::clear_conv_algorithm_cache();
    std::vector<float> y = conv2d_forward(x, w, g).to_vector<float>();
    std::vector<float> gw = conv2d_backward_filter(x, gy, w.shape(), g).to_vector<float>();
    std::vector<float> gx = conv2d_backward_data(gy, w, x.shape(), g).to_vector<float>();
    if (run == 0) {
      first_y = y;
      first_w = gw;
      first_x = gx;
      continue;
    }
    EXPECT_EQ(std::memcmp(y.data(), first_y.data(), y.size() * sizeof(float)), 0) << "forward, run " << run;
    EXPECT_EQ(std::memcmp(gw.data(), first_w.data(), gw.size() * sizeof(float)), 0) << "filter, run " << run;
    EXPECT_EQ(std::memcmp(gx.data(), first_x.data(), gx.size() * sizeof(float)), 0) << "data, run " << run;
  }
#endif
}

// ---------------------------------------------------------------- index checks

TEST(CudaDefects, IndexCheckCpuIsImmediate) {
  Tensor table = random_tensor({5, 3}, DType::f32, 40);
  Tensor bad = Tensor::from_vector<int32_t>({0, 4, 7}, {3});
  try {
    embedding_gather(table, bad);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("embedding_gather: index 7 at position 2 is out of range [0, 5)"),
              std::string::npos)
        << e.what();
  }
}

TEST(CudaDefects, IndexCheckIsDeviceSideCuda) {
  ODEGAN_REQUIRE_CUDA();
#ifdef ODEGAN_WITH_CUDA
  const Device d = Device::cuda(0);
  CudaContext& ctx = CudaContext::get(0);
  Tensor table = random_tensor({5, 3}, DType::f32, 40, -1, 1, d);
  Tensor good = Tensor::from_vector<int32_t>({0, 4, 2}, {3}).to(d);
  Tensor bad = Tensor::from_vector<int32_t>({0, 4, 7}, {3}).to(d);
  ctx.synchronize();
  // Valid indices: no host copy, no sync.
  const int64_t before = sync_count();
  Tensor e = embedding_gather(table, good);
  Tensor s = embedding_scatter_add(e, good, 5);
  Tensor h = one_hot(good, 5, DType::f32);
  EXPECT_EQ(sync_count(), before);
  EXPECT_TENSOR_NEAR(e.to(Device::cpu()), embedding_gather(table.to(Device::cpu()), good.to(Device::cpu())), 0, 0);
  // A bad index: no error at the call, a clear one at the next sync, then all is well.
  Tensor out;
  EXPECT_NO_THROW(out = embedding_gather(table, bad));
  try {
    ctx.synchronize();
    ADD_FAILURE() << "no error at the sync";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("embedding_gather: index 7 at position 2 is out of range [0, 5)"),
              std::string::npos)
        << err.what();
  }
  EXPECT_NO_THROW(ctx.synchronize());
  // The skipped row reads as zeros (no out-of-bounds read).
  EXPECT_EQ(out.to_vector<float>()[6], 0.0f);
  Tensor oh = one_hot(Tensor::from_vector<int32_t>({-1}, {1}).to(d), 3, DType::f32);
  EXPECT_THROW(oh.to_vector<float>(), Error);
  EXPECT_EQ(oh.to_vector<float>(), (std::vector<float>{0, 0, 0}));
#endif
}

// ---------------------------------------------------------------- pinned uploads

void uploads(Device dev, bool count_syncs) {
  DeviceUploader up(dev, 2);
  std::vector<float> src(1000);
  std::vector<Tensor> got;
  std::vector<std::vector<float>> want;
  const int64_t before = sync_count();
  for (int i = 0; i < 6; ++i) {
    for (size_t j = 0; j < src.size(); ++j) src[j] = static_cast<float>(i * 1000 + static_cast<int>(j));
    const int64_t n = 500 + 100 * i;  // sizes grow: buffers are reallocated
    got.push_back(up.upload(src.data(), {n}, DType::f32));
    want.emplace_back(src.begin(), src.begin() + n);
    std::fill(src.begin(), src.end(), -1.0f);  // the caller's memory is free at once
  }
  if (count_syncs) {
    EXPECT_LE(sync_count() - before, 4) << "waits only when a buffer is still being read";
  }
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].to_vector<float>(), want[i]) << "upload " << i;
  std::vector<int32_t> labels = {3, 1, 2};
  EXPECT_EQ(up.upload(labels.data(), {3}, DType::i32).to_vector<int32_t>(), labels);
}

TEST(CudaDefects, PinnedUploadsCpu) { uploads(Device::cpu(), false); }
TEST(CudaDefects, PinnedUploadsCuda) {
  ODEGAN_REQUIRE_CUDA();
  uploads(Device::cuda(0), true);
}

// ---------------------------------------------------------------- fresh-process tests

#ifdef ODEGAN_WITH_CUDA
// Eight threads ask a fresh context for its handles at once: one cuBLAS and one cuDNN
// handle must come out (an unlocked lazy creation makes several, or hands out one
// before its stream is set).
TEST(CudaDefectsDeathTest, HandlesCreatedOnceUnderThreadsCuda) {
  ODEGAN_REQUIRE_CUDA();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        CudaContext& ctx = CudaContext::get(0);
        constexpr int kThreads = 8;
        std::vector<cublasHandle_t> b(kThreads);
        std::vector<cudnnHandle_t> n(kThreads);
        std::atomic<int> ready{0};
        std::vector<std::thread> ts;
        for (int i = 0; i < kThreads; ++i)
          ts.emplace_back([&, i] {
            ready.fetch_add(1);
            while (ready.load() < kThreads) {
            }
            b[static_cast<size_t>(i)] = ctx.cublas();
            n[static_cast<size_t>(i)] = ctx.cudnn();
          });
        for (auto& t : ts) t.join();
        bool same = true;
        for (int i = 1; i < kThreads; ++i) same = same && b[static_cast<size_t>(i)] == b[0] && n[static_cast<size_t>(i)] == n[0];
        cudaStream_t s = nullptr;
        cublasGetStream(b[0], &s);
        std::fprintf(stderr, same && s == ctx.stream() ? "one handle each\n" : "several handles\n");
        std::exit(same && s == ctx.stream() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "one handle each");
}

// After a sticky error (an illegal address), freeing device tensors must neither throw
// (std::terminate) nor hide the first error, which the sync reports.
TEST(CudaDefectsDeathTest, StorageDestructorSurvivesStickyErrorCuda) {
  ODEGAN_REQUIRE_CUDA();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        {
          Tensor a = Tensor::zeros({16}, DType::f32, Device::cuda(0));
          Tensor b = Tensor::zeros({16}, DType::f32, Device::cuda(0));
          AxisView v;
          v.axis = 16;
          cuda::copy_axis_block(a, v, int64_t(1) << 40, b, v, 0, 1);  // reads 4 TB past `a`
          try {
            CudaContext::get(0).synchronize();
            std::fprintf(stderr, "no error at the sync\n");
            std::exit(3);
          } catch (const std::exception& e) {
            std::fprintf(stderr, "first error: %s\n", e.what());
          }
        }  // a and b are freed here, after the sticky error
        std::fprintf(stderr, "destructors returned\n");
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "first error: .*cudaError.*destructors returned");
}
#endif

}  // namespace
}  // namespace odegan::kernels
