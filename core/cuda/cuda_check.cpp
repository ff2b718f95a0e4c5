#include "core/cuda/cuda_check.h"

#include <string>

namespace odegan::detail {

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  throw_error(std::string("CUDA error in ") + call + ": " + cudaGetErrorName(e) + ": " +
                  cudaGetErrorString(e), file, line);
}

void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  throw_error(std::string("cuBLAS error in ") + call + ": " + cublasGetStatusName(s) + ": " +
                  cublasGetStatusString(s), file, line);
}

void throw_cudnn_error(cudnnStatus_t s, const char* call, const char* file, int line) {
  std::string msg = std::string("cuDNN error in ") + call + ": " + cudnnGetErrorString(s);
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  if (detail[0]) msg += std::string(" (") + detail + ")";
  throw_error(msg, file, line);
}

}  // namespace odegan::detail
