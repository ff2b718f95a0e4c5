// cuDNN convolutions. The algorithm for each (op, shapes, geometry, dtype, math mode) is
// found once by benchmarking (cudnnFind*AlgorithmEx), restricted to those whose workspace
// fits the context's cap (and to deterministic ones in deterministic mode), and cached.
// All calls share the context's one workspace.
// Note: cuDNN 9 marks this (v7-style) API deprecated in favour of its graph API; it is
// fully supported and compiles without warnings unless CUDNN_WARN_DEPRECATED is defined.
#include "kernels/cuda/conv.h"

#include <mutex>
#include <sstream>
#include <unordered_map>

#include "core/cuda/context.h"
#include "core/cuda/cuda_check.h"
#include "kernels/config.h"

namespace odegan::kernels::cuda {
namespace {

cudnnDataType_t data_type(DType t) { return t == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT; }

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc(const Shape& s, DType t) {
    ODEGAN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    ODEGAN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, data_type(t), int(s[0]), int(s[1]),
                                                  int(s[2]), int(s[3])));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
};

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc(const Shape& s, DType t) {
    ODEGAN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d));
    ODEGAN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d, data_type(t), CUDNN_TENSOR_NCHW, int(s[0]), int(s[1]), int(s[2]),
                                                  int(s[3])));
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
};

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
};

enum class Op { forward, backward_data, backward_filter };

// cuDNN picks a kernel by (algorithm, math type): the call must use the math type the
// benchmark ran with.
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

// Picks the fastest successful algorithm from cuDNN's benchmark results (sorted by time).
template <class Perf>
Choice pick(const Perf* perf, int count, size_t cap, const char* what) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > cap) continue;
    if (deterministic() && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
    // Without TF32 permission, only full-precision (FMA) kernels.
    if (!allow_tf32() && perf[i].mathType != CUDNN_FMA_MATH && perf[i].mathType != CUDNN_DEFAULT_MATH) continue;
    return {static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType};
  }
  ODEGAN_FAIL("cuDNN: no ", what, " algorithm fits the workspace cap of ", cap >> 20, " MB",
              deterministic() ? " in deterministic mode" : "", " (raise ODEGAN_CUDNN_WORKSPACE_MB)");
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

void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dGeometry& g) {
  if (y.numel() == 0) return;
  if (x.numel() == 0 || w.numel() == 0) {  // empty sums (cuDNN rejects empty tensors)
    y.zero_();
    return;
  }
  CudaDeviceGuard guard(x.device().index);
  Call c(x);
  const DType t = x.dtype();
  TensorDesc xd(x.shape(), t), yd(y.shape(), t);
  FilterDesc wd(w.shape(), t);
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
      ODEGAN_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
          c.h, xd.d, x.data_ptr(), wd.d, w.data_ptr(), cd.d, yd.d, y.data_ptr(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n,
          perf, c.ctx.workspace(cap), cap));
      it = g_cache.emplace(k, pick(perf, n, cap, "forward convolution")).first;
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
  TensorDesc gyd(gy.shape(), t), gxd(gx.shape(), t);
  FilterDesc wd(w.shape(), t);
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
      ODEGAN_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
          c.h, wd.d, w.data_ptr(), gyd.d, gy.data_ptr(), cd.d, gxd.d, gx.data_ptr(),
          CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf, c.ctx.workspace(cap), cap));
      it = g_cache.emplace(k, pick(perf, n, cap, "backward-data convolution")).first;
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
  TensorDesc xd(x.shape(), t), gyd(gy.shape(), t);
  FilterDesc wd(gw.shape(), t);
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
      ODEGAN_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
          c.h, xd.d, x.data_ptr(), gyd.d, gy.data_ptr(), cd.d, wd.d, gw.data_ptr(),
          CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf, c.ctx.workspace(cap), cap));
      it = g_cache.emplace(k, pick(perf, n, cap, "backward-filter convolution")).first;
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
