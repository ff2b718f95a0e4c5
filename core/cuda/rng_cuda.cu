#include "core/cuda/context.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/rng_cuda.h"

namespace odegan::cuda_impl {
namespace {

template <class T>
__global__ void random_kernel(T* out, int64_t n, philox::Dist dist, philox::DistParams prm, uint64_t seed,
                              uint64_t first) {
  const int per = philox::values_per_counter<T>(dist);
  int64_t counters = (n + per - 1) / per;
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < counters;
       c += (int64_t)gridDim.x * blockDim.x) {
    T v[4] = {};
    philox::generate<T>(dist, prm, seed, first + c, v);
    for (int j = 0; j < per; ++j) {
      int64_t i = c * per + j;
      if (i < n) out[i] = v[j];
    }
  }
}

}  // namespace

void random_fill(Tensor& t, philox::Dist dist, const philox::DistParams& params, uint64_t seed,
                 uint64_t first_counter) {
  int64_t n = t.numel();
  if (n == 0) return;
  int dev = t.device().index;
  CudaDeviceGuard guard(dev);
  cudaStream_t st = CudaContext::get(dev).stream();
  int64_t blocks = std::min<int64_t>((n / 2 + 255) / 256 + 1, 4096);
  if (t.dtype() == DType::f32)
    random_kernel<float><<<(int)blocks, 256, 0, st>>>(t.data<float>(), n, dist, params, seed, first_counter);
  else
    random_kernel<double><<<(int)blocks, 256, 0, st>>>(t.data<double>(), n, dist, params, seed, first_counter);
  ODEGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace odegan::cuda_impl
