// Checks for CUDA runtime, cuBLAS and cuDNN calls: a failure throws odegan::Error
// naming the call, file:line and the library's own message. CUDA builds only.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "core/error.h"

namespace odegan::detail {
[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t s, const char* call, const char* file, int line);
}  // namespace odegan::detail

#define ODEGAN_CUDA_CHECK(call)                                                        \
  do {                                                                                 \
    cudaError_t e_ = (call);                                                           \
    if (e_ != cudaSuccess) ::odegan::detail::throw_cuda_error(e_, #call, __FILE__, __LINE__); \
  } while (0)

#define ODEGAN_CUBLAS_CHECK(call)                                                          \
  do {                                                                                     \
    cublasStatus_t s_ = (call);                                                            \
    if (s_ != CUBLAS_STATUS_SUCCESS) ::odegan::detail::throw_cublas_error(s_, #call, __FILE__, __LINE__); \
  } while (0)

#define ODEGAN_CUDNN_CHECK(call)                                                           \
  do {                                                                                     \
    cudnnStatus_t s_ = (call);                                                             \
    if (s_ != CUDNN_STATUS_SUCCESS) ::odegan::detail::throw_cudnn_error(s_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: catches bad launch configurations at the launch site.
#define ODEGAN_CUDA_CHECK_LAUNCH() ODEGAN_CUDA_CHECK(cudaGetLastError())
