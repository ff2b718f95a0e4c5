#include "core/cuda/context.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/tensor_cuda.h"

namespace odegan::cuda_impl {
namespace {

template <class T>
__global__ void fill_kernel(T* p, int64_t n, T v) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    p[i] = v;
}

template <class S, class D>
__global__ void cast_kernel(const S* s, D* d, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    d[i] = static_cast<D>(s[i]);
}

int blocks_for(int64_t n) {
  int64_t b = (n + 255) / 256;
  return static_cast<int>(b < 4096 ? (b < 1 ? 1 : b) : 4096);
}

template <class S>
void cast_from(const S* src, void* dst, DType dst_dtype, int64_t n, cudaStream_t st) {
  switch (dst_dtype) {
    case DType::f32: cast_kernel<<<blocks_for(n), 256, 0, st>>>(src, static_cast<float*>(dst), n); break;
    case DType::f64: cast_kernel<<<blocks_for(n), 256, 0, st>>>(src, static_cast<double*>(dst), n); break;
    case DType::i32: cast_kernel<<<blocks_for(n), 256, 0, st>>>(src, static_cast<int32_t*>(dst), n); break;
  }
}

}  // namespace

void fill(void* ptr, int64_t n, DType dtype, double value, int device) {
  if (n == 0) return;
  CudaDeviceGuard guard(device);
  cudaStream_t st = CudaContext::get(device).stream();
  switch (dtype) {
    case DType::f32: fill_kernel<<<blocks_for(n), 256, 0, st>>>(static_cast<float*>(ptr), n, (float)value); break;
    case DType::f64: fill_kernel<<<blocks_for(n), 256, 0, st>>>(static_cast<double*>(ptr), n, value); break;
    case DType::i32: fill_kernel<<<blocks_for(n), 256, 0, st>>>(static_cast<int32_t*>(ptr), n, (int32_t)value); break;
  }
  ODEGAN_CUDA_CHECK_LAUNCH();
}

void cast(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n, int device) {
  if (n == 0) return;
  CudaDeviceGuard guard(device);
  cudaStream_t st = CudaContext::get(device).stream();
  switch (src_dtype) {
    case DType::f32: cast_from(static_cast<const float*>(src), dst, dst_dtype, n, st); break;
    case DType::f64: cast_from(static_cast<const double*>(src), dst, dst_dtype, n, st); break;
    case DType::i32: cast_from(static_cast<const int32_t*>(src), dst, dst_dtype, n, st); break;
  }
  ODEGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace odegan::cuda_impl
