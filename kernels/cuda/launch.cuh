// Launch helpers shared by the CUDA kernel files: stream of a tensor's device, grid
// sizes for grid-stride loops, and the CUDA checks.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda/context.h"
#include "core/cuda/cuda_check.h"
#include "core/tensor.h"

namespace odegan::kernels::cuda {

constexpr int kThreads = 256;

inline int grid_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<int>(std::clamp<int64_t>(b, 1, 65535));
}

// Binds the tensor's device for the scope and gives its context's stream.
struct DeviceScope {
  explicit DeviceScope(const Tensor& t) : guard(t.device().index), ctx(CudaContext::get(t.device().index)) {}
  cudaStream_t stream() const { return ctx.stream(); }
  CudaDeviceGuard guard;
  CudaContext& ctx;
};

#define ODEGAN_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

}  // namespace odegan::kernels::cuda
