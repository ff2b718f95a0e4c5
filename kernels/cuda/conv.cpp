// cuDNN convolutions. The algorithm for each (op, shapes, geometry, dtype, settings) is
// chosen once and cached. Normally by benchmarking (cudnnFind*AlgorithmEx, fastest first);
// in deterministic mode by cuDNN's heuristics (cudnnGet*Algorithm_v7, a ranking that does
// not depend on timings, so two runs choose alike), then a fixed list of deterministic
// algorithms. Candidates are filtered by kernels/cudnn_rules.h (determinism, no TF32 for
// float32 unless allowed) and by the context's workspace cap; all calls share the
// context's one workspace.
// Note: cuDNN 9 marks this (v7-style) API deprecated in favour of its graph API; it is
// fully supported and compiles without warnings unless CUDNN_WARN_DEPRECATED is defined.
#include "kernels/cuda/conv.h"

#include <mutex>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "core/cuda/context.h"
#include "core/cuda/cuda_check.h"
#include "kernels/config.h"
#include "kernels/cudnn_rules.h"

namespace odegan::kernels::cuda {
namespace {

cudnnDataType_t data_type(DType t) { return t == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT; }

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc(const Shape& s, DType t, const char* op, const char* what) {
    const std::array<int, 4> n = cudnn_dims(s, op, what);
    ODEGAN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    ODEGAN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, data_type(t), n[0], n[1], n[2], n[3]));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc(const Shape& s, DType t, const char* op) {
    const std::array<int, 4> n = cudnn_dims(s, op, "weight");
    ODEGAN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d));
    ODEGAN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d, data_type(t), CUDNN_TENSOR_NCHW, n[0], n[1], n[2], n[3]));
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};

cudnnMathType_t to_cudnn(ConvMath m) {
  switch (m) {
    case ConvMath::default_math: return CUDNN_DEFAULT_MATH;
    case ConvMath::tensor_op: return CUDNN_TENSOR_OP_MATH;
    case ConvMath::tensor_op_allow_conversion: return CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    case ConvMath::fma: break;
  }
  return CUDNN_FMA_MATH;
}

ConvMath from_cudnn(cudnnMathType_t m) {
  switch (m) {
    case CUDNN_DEFAULT_MATH: return ConvMath::default_math;
    case CUDNN_TENSOR_OP_MATH: return ConvMath::tensor_op;
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return ConvMath::tensor_op_allow_conversion;
    default: return ConvMath::fma;
  }
}

struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc(const Conv2dGeometry& g, DType t) {
    ODEGAN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d));
    ODEGAN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d, g.pad_h, g.pad_w, g.stride_h, g.stride_w, g.dilation_h,
                                                       g.dilation_w, CUDNN_CROSS_CORRELATION, data_type(t)));
    // FMA math keeps full float32 precision; tensor ops (TF32) only when allowed.
    ODEGAN_CUDNN_CHECK(cudnnSetConvolutionMathType(
        d, (t == DType::f32 && allow_tf32()) ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

enum class Op { forward, backward_data, backward_filter };

// cuDNN picks a kernel by (algorithm, math type): the call runs with the math type the
// choice was made (and its workspace sized) with.
struct Choice {
  int algo;
  size_t workspace;
  cudnnMathType_t math;
};

std::mutex g_cache_mutex;
std::unordered_map<std::string, Choice> g_cache;

std::string key(Op op, const Shape& x, const Shape& w, const Conv2dGeometry& g, DType t, int dev) {
  std::ostringstream k;
  k << int(op) << '|' << x.str() << w.str() << '|' << g.stride_h << ',' << g.stride_w << ',' << g.pad_h << ','
    << g.pad_w << ',' << g.dilation_h << ',' << g.dilation_w << '|' << int(t) << '|' << deterministic() << allow_tf32()
    << '|' << dev;
  return k.str();
}

template <class Perf>
std::vector<ConvCandidate> listed(const Perf* perf, int count) {
  std::vector<ConvCandidate> out;
  for (int i = 0; i < count; ++i)
    out.push_back({static_cast<int>(perf[i].algo), perf[i].status == CUDNN_STATUS_SUCCESS,
                   perf[i].determinism == CUDNN_DETERMINISTIC, from_cudnn(perf[i].mathType)});
  return out;
}

// The first usable candidate whose workspace (queried with the math it will run with)
// fits the cap. `workspace(algo, &bytes)` is the op's cudnnGet*WorkspaceSize.
template <class WorkspaceQuery>
Choice first_fitting(const std::vector<ConvCandidate>& candidates, DType t, cudnnConvolutionDescriptor_t cd,
                     size_t cap, WorkspaceQuery workspace, const char* what) {
  for (const auto& [c, math] : conv_usable(candidates, t, deterministic(), allow_tf32())) {
    ODEGAN_CUDNN_CHECK(cudnnSetConvolutionMathType(cd, to_cudnn(math)));
    size_t bytes = 0;
    if (workspace(c.algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > cap) continue;
    return {c.algo, bytes, to_cudnn(math)};
  }
  ODEGAN_FAIL("cuDNN: no ", what, " algorithm fits the workspace cap of ", cap >> 20, " MB",
              deterministic() ? " in deterministic mode" : "",
              (t == DType::f32 && !allow_tf32()) ? " with full float32 (FMA) math" : "",
              " (raise ODEGAN_CUDNN_WORKSPACE_MB)");
}

// Deterministic fallbacks after the heuristics' ranking (documented as deterministic).
std::vector<ConvCandidate> fixed_deterministic(Op op) {
  switch (op) {
    case Op::forward:
      return {{CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, true, true, ConvMath::fma},
              {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, true, true, ConvMath::fma}};
    case Op::backward_data: return {{CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, true, true, ConvMath::fma}};
    case Op::backward_filter: return {{CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, true, true, ConvMath::fma}};
  }
  return {};
}

struct Call {
  CudaContext& ctx;
  cudnnHandle_t h;
  explicit Call(const Tensor& t) : ctx(CudaContext::get(t.device().index)), h(ctx.cudnn()) {}
};

// alpha/beta are host scalars of the compute type.
struct Scalars {
  float f1 = 1.f, f0 = 0.f;
  double d1 = 1.0, d0 = 0.0;
  const void* one(DType t) const { return t == DType::f64 ? static_cast<const void*>(&d1) : &f1; }
  const void* zero(DType t) const { return t == DType::f64 ? static_cast<const void*>(&d0) : &f0; }
};

}  // namespace

void clear_conv_algorithm_cache() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  g_cache.clear();
}

void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dGeometry& g) {
  if (y.numel() == 0) return;
  if (x.numel() == 0 || w.numel() == 0) {  // empty sums (cuDNN rejects empty tensors)
    y.zero_();
    return;
  }
  CudaDeviceGuard guard(x.device().index);
  Call c(x);
  const DType t = x.dtype();
  TensorDesc xd(x.shape(), t, "conv2d", "input"), yd(y.shape(), t, "conv2d", "output");
  FilterDesc wd(w.shape(), t, "conv2d");
  ConvDesc cd(g, t);
  const std::string k = key(Op::forward, x.shape(), w.shape(), g, t, x.device().index);
  Choice ch;
  {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto it = g_cache.find(k);
    if (it == g_cache.end()) {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      int n = 0;
      const size_t cap = c.ctx.workspace_cap();
      std::vector<ConvCandidate> cands;
      if (deterministic()) {
        ODEGAN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(c.h, xd.d, wd.d, cd.d, yd.d,
                                                                  CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf));
        cands = listed(perf, n);
        for (const ConvCandidate& f : fixed_deterministic(Op::forward)) cands.push_back(f);
      } else {
        ODEGAN_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
            c.h, xd.d, x.data_ptr(), wd.d, w.data_ptr(), cd.d, yd.d, y.data_ptr(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
            &n, perf, c.ctx.workspace(cap), cap));
        cands = listed(perf, n);
      }
      auto ws = [&](int algo, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(c.h, xd.d, wd.d, cd.d, yd.d,
                                                       static_cast<cudnnConvolutionFwdAlgo_t>(algo), bytes);
      };
      it = g_cache.emplace(k, first_fitting(cands, t, cd.d, cap, ws, "forward convolution")).first;
    }
    ch = it->second;
  }
  ODEGAN_CUDNN_CHECK(cudnnSetConvolutionMathType(cd.d, ch.math));
  Scalars s;
  ODEGAN_CUDNN_CHECK(cudnnConvolutionForward(c.h, s.one(t), xd.d, x.data_ptr(), wd.d, w.data_ptr(), cd.d,
                                             static_cast<cudnnConvolutionFwdAlgo_t>(ch.algo),
                                             c.ctx.workspace(ch.workspace), ch.workspace, s.zero(t), yd.d,
                                             y.data_ptr()));
}

void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dGeometry& g) {
  if (gx.numel() == 0) return;
  if (gy.numel() == 0 || w.numel() == 0) {
    gx.zero_();
    return;
  }
  CudaDeviceGuard guard(gy.device().index);
  Call c(gy);
  const DType t = gy.dtype();
  TensorDesc gyd(gy.shape(), t, "conv2d_backward_data", "output gradient"),
      gxd(gx.shape(), t, "conv2d_backward_data", "input gradient");
  FilterDesc wd(w.shape(), t, "conv2d_backward_data");
  ConvDesc cd(g, t);
  const std::string k = key(Op::backward_data, gx.shape(), w.shape(), g, t, gy.device().index);
  Choice ch;
  {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto it = g_cache.find(k);
    if (it == g_cache.end()) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      int n = 0;
      const size_t cap = c.ctx.workspace_cap();
      std::vector<ConvCandidate> cands;
      if (deterministic()) {
        ODEGAN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
            c.h, wd.d, gyd.d, cd.d, gxd.d, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf));
        cands = listed(perf, n);
        for (const ConvCandidate& f : fixed_deterministic(Op::backward_data)) cands.push_back(f);
      } else {
        ODEGAN_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
            c.h, wd.d, w.data_ptr(), gyd.d, gy.data_ptr(), cd.d, gxd.d, gx.data_ptr(),
            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf, c.ctx.workspace(cap), cap));
        cands = listed(perf, n);
      }
      auto ws = [&](int algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(c.h, wd.d, gyd.d, cd.d, gxd.d,
                                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), bytes);
      };
      it = g_cache.emplace(k, first_fitting(cands, t, cd.d, cap, ws, "backward-data convolution")).first;
    }
    ch = it->second;
  }
  ODEGAN_CUDNN_CHECK(cudnnSetConvolutionMathType(cd.d, ch.math));
  Scalars s;
  ODEGAN_CUDNN_CHECK(cudnnConvolutionBackwardData(c.h, s.one(t), wd.d, w.data_ptr(), gyd.d, gy.data_ptr(), cd.d,
                                                  static_cast<cudnnConvolutionBwdDataAlgo_t>(ch.algo),
                                                  c.ctx.workspace(ch.workspace), ch.workspace, s.zero(t), gxd.d,
                                                  gx.data_ptr()));
}

void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& gw, const Conv2dGeometry& g) {
  if (gw.numel() == 0) return;
  if (x.numel() == 0 || gy.numel() == 0) {
    gw.zero_();
    return;
  }
  CudaDeviceGuard guard(x.device().index);
  Call c(x);
  const DType t = x.dtype();
  TensorDesc xd(x.shape(), t, "conv2d_backward_filter", "input"),
      gyd(gy.shape(), t, "conv2d_backward_filter", "output gradient");
  FilterDesc wd(gw.shape(), t, "conv2d_backward_filter");
  ConvDesc cd(g, t);
  const std::string k = key(Op::backward_filter, x.shape(), gw.shape(), g, t, x.device().index);
  Choice ch;
  {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto it = g_cache.find(k);
    if (it == g_cache.end()) {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      int n = 0;
      const size_t cap = c.ctx.workspace_cap();
      std::vector<ConvCandidate> cands;
      if (deterministic()) {
        ODEGAN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
            c.h, xd.d, gyd.d, cd.d, wd.d, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf));
        cands = listed(perf, n);
        for (const ConvCandidate& f : fixed_deterministic(Op::backward_filter)) cands.push_back(f);
      } else {
        ODEGAN_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
            c.h, xd.d, x.data_ptr(), gyd.d, gy.data_ptr(), cd.d, wd.d, gw.data_ptr(),
            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf, c.ctx.workspace(cap), cap));
        cands = listed(perf, n);
      }
      auto ws = [&](int algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(
            c.h, xd.d, gyd.d, cd.d, wd.d, static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), bytes);
      };
      it = g_cache.emplace(k, first_fitting(cands, t, cd.d, cap, ws, "backward-filter convolution")).first;
    }
    ch = it->second;
  }
  ODEGAN_CUDNN_CHECK(cudnnSetConvolutionMathType(cd.d, ch.math));
  Scalars s;
  ODEGAN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(c.h, s.one(t), xd.d, x.data_ptr(), gyd.d, gy.data_ptr(), cd.d,
                                                    static_cast<cudnnConvolutionBwdFilterAlgo_t>(ch.algo),
                                                    c.ctx.workspace(ch.workspace), ch.workspace, s.zero(t), wd.d,
                                                    gw.data_ptr()));
}

}  // namespace odegan::kernels::cuda
