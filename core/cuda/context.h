// Per-device CUDA context: the stream all work goes on, cuBLAS and cuDNN handles bound
// to it, and one shared, capped workspace. Created lazily on first use. CUDA builds only.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>

namespace odegan {

class CudaContext {
 public:
  // The context of device `index` (created on first call; lives until exit).
  static CudaContext& get(int index);

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas();
  cudnnHandle_t cudnn();
  // A scratch buffer of at least `bytes` on this device's stream, shared by all
  // cuDNN calls (they run in stream order, so one buffer suffices). Grows on demand.
  void* workspace(size_t bytes);
  size_t workspace_size() const { return workspace_bytes_; }
  // The most any single op may ask of the workspace (ODEGAN_CUDNN_WORKSPACE_MB, default 256).
  size_t workspace_cap() const { return workspace_cap_; }
  void synchronize();

 private:
  explicit CudaContext(int index);
  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  size_t workspace_cap_ = 0;
};

// Makes `index` the current device for the scope, restoring the previous one after.
class CudaDeviceGuard {
 public:
  explicit CudaDeviceGuard(int index);
  ~CudaDeviceGuard();
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace odegan
