// CUDA batch norm: one block per channel reduces its statistics in shared memory (double
// accumulators, fixed order: deterministic), then elementwise kernels apply them. The
// arithmetic is kernels/norm_ops.h's, shared with the CPU.
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/norm.h"
#include "kernels/norm_ops.h"

namespace odegan::kernels::cuda {
namespace {

constexpr int kBlock = 256;

__device__ double block_sum(double v) {
  __shared__ double sh[kBlock];
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kBlock / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  double r = sh[0];
  __syncthreads();
  return r;
}

// Element i of channel c: x[(n * C + c) * HW + j] with i = n * HW + j.
__device__ __forceinline__ int64_t at(const NormDims& d, int64_t c, int64_t i) {
  return ((i / d.hw) * d.c + c) * d.hw + i % d.hw;
}

// Per channel: the batch statistics, the running statistics' update, and the folded
// affine map y = x * scale + shift (scale_shift: C scales, then C shifts).
template <class T>
__global__ void stats_kernel(const T* x, NormDims d, double eps, double momentum, const T* gamma, const T* beta,
                             T* mean_out, T* invstd_out, T* rm, T* rv, T* scale_shift) {
  const int64_t c = blockIdx.x, m = d.n * d.hw;
  double s = 0;
  for (int64_t i = threadIdx.x; i < m; i += blockDim.x) s += (double)x[at(d, c, i)];
  const double mean = block_sum(s) / (double)m;
  double ss = 0;
  for (int64_t i = threadIdx.x; i < m; i += blockDim.x) {
    double dv = (double)x[at(d, c, i)] - mean;
    ss += dv * dv;
  }
  const double var = block_sum(ss) / (double)m;
  if (threadIdx.x == 0) {
    const double inv = norm_ops::invstd(var, eps);
    mean_out[c] = (T)mean;
    invstd_out[c] = (T)inv;
    double scale, shift;
    norm_ops::training_affine((double)gamma[c], (double)beta[c], mean, inv, scale, shift);
    scale_shift[c] = (T)scale;
    scale_shift[d.c + c] = (T)shift;
    if (rm) norm_ops::update_running(rm[c], rv[c], mean, var, m, momentum);
  }
}

// y = x * scale + shift with the per-channel maps (C scales, then C shifts).
template <class T>
__global__ void apply_kernel(const T* x, T* y, NormDims d, const T* scale_shift) {
  ODEGAN_GRID_STRIDE(i, d.n * d.c * d.hw) {
    const int64_t c = (i / d.hw) % d.c;
    y[i] = norm_ops::apply(x[i], scale_shift[c], scale_shift[d.c + c]);
  }
}

template <class T>
__global__ void inference_kernel(const T* x, T* y, NormDims d, const T* rm, const T* rv, double eps, const T* gamma,
                                 const T* beta) {
  ODEGAN_GRID_STRIDE(i, d.n * d.c * d.hw) {
    const int64_t c = (i / d.hw) % d.c;
    double scale, shift;
    norm_ops::inference_affine((double)gamma[c], (double)beta[c], (double)rm[c], (double)rv[c], eps, scale, shift);
    y[i] = norm_ops::apply(x[i], (T)scale, (T)shift);
  }
}

// Per channel: sum(gy) and sum(gy * xhat).
template <class T>
__global__ void backward_sums(const T* gy, const T* x, NormDims d, const T* mean, const T* invstd, double* sg,
                              double* sgx, T* ggamma, T* gbeta) {
  const int64_t c = blockIdx.x, m = d.n * d.hw;
  double a = 0, b = 0;
  const double mu = mean[c], inv = invstd[c];
  for (int64_t i = threadIdx.x; i < m; i += blockDim.x) {
    const int64_t k = at(d, c, i);
    a += (double)gy[k];
    b += (double)gy[k] * norm_ops::xhat((double)x[k], mu, inv);
  }
  a = block_sum(a);
  b = block_sum(b);
  if (threadIdx.x == 0) {
    sg[c] = a;
    sgx[c] = b;
    if (gbeta) gbeta[c] = (T)a;
    if (ggamma) ggamma[c] = (T)b;
  }
}

template <class T>
__global__ void backward_dx(const T* gy, const T* x, T* gx, NormDims d, const T* mean, const T* invstd, const T* gamma,
                            const double* sg, const double* sgx) {
  const double m = (double)(d.n * d.hw);
  ODEGAN_GRID_STRIDE(i, d.n * d.c * d.hw) {
    const int64_t c = (i / d.hw) % d.c;
    const norm_ops::BackwardChannel b =
        norm_ops::backward_channel((double)gamma[c], (double)mean[c], (double)invstd[c], sg[c], sgx[c], m);
    gx[i] = (T)norm_ops::backward_dx(b, (double)gy[i], (double)x[i]);
  }
}

}  // namespace

void batch_norm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, double momentum,
                                 Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                                 Tensor& save_invstd, const NormDims& d) {
  if (d.c == 0) return;  // no channels: nothing to do (and a grid of 0 blocks is an error)
  DeviceScope scope(x);
  Tensor scale_shift = Tensor::empty({2, d.c}, x.dtype(), x.device());
  visit_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    stats_kernel<T><<<static_cast<unsigned>(d.c), kBlock, 0, scope.stream()>>>(
        x.data<T>(), d, eps, momentum, gamma.data<T>(), beta.data<T>(), save_mean.data<T>(), save_invstd.data<T>(),
        running_mean.defined() ? running_mean.data<T>() : nullptr,
        running_var.defined() ? running_var.data<T>() : nullptr, scale_shift.data<T>());
    ODEGAN_CUDA_CHECK_LAUNCH();
    apply_kernel<T><<<grid_for(x.numel()), kThreads, 0, scope.stream()>>>(x.data<T>(), y.data<T>(), d,
                                                                         scale_shift.data<T>());
    ODEGAN_CUDA_CHECK_LAUNCH();
  });
}

void batch_norm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                  const Tensor& running_var, double eps, Tensor& y, const NormDims& d) {
  DeviceScope scope(x);
  visit_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    inference_kernel<T><<<grid_for(x.numel()), kThreads, 0, scope.stream()>>>(
        x.data<T>(), y.data<T>(), d, running_mean.data<T>(), running_var.data<T>(), eps, gamma.data<T>(),
        beta.data<T>());
    ODEGAN_CUDA_CHECK_LAUNCH();
  });
}

void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, Tensor& gx, Tensor& ggamma, Tensor& gbeta, const NormDims& d) {
  if (d.c == 0) return;
  DeviceScope scope(x);
  Tensor sums = Tensor::empty({2, d.c}, DType::f64, x.device());
  visit_float(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    double* sg = sums.data<double>();
    double* sgx = sg + d.c;
    backward_sums<T><<<static_cast<unsigned>(d.c), kBlock, 0, scope.stream()>>>(
        gy.data<T>(), x.data<T>(), d, save_mean.data<T>(), save_invstd.data<T>(), sg, sgx,
        ggamma.defined() ? ggamma.data<T>() : nullptr, gbeta.defined() ? gbeta.data<T>() : nullptr);
    ODEGAN_CUDA_CHECK_LAUNCH();
    if (gx.defined()) {
      backward_dx<T><<<grid_for(x.numel()), kThreads, 0, scope.stream()>>>(gy.data<T>(), x.data<T>(), gx.data<T>(), d,
                                                                           save_mean.data<T>(), save_invstd.data<T>(),
                                                                           gamma.data<T>(), sg, sgx);
      ODEGAN_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace odegan::kernels::cuda
