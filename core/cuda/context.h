// Per-device CUDA context: the stream all work goes on, cuBLAS and cuDNN handles bound
// to it, and one shared, capped workspace. Created lazily on first use. CUDA builds only.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <mutex>

namespace odegan {

// The first failure found by a device-side argument check (an index out of range), in
// mapped pinned host memory: kernels write it, the host reads it after a synchronisation
// (CudaContext::raise_device_errors) without an extra copy. `op` is a host string literal
// (the kernel only stores the pointer).
struct DeviceErrorRecord {
  int flag;  // 0: none; set once by atomicCAS
  const char* op;
  long long position, value, limit;
};

class CudaContext {
 public:
  // The context of device `index` (created on first call; lives until exit).
  static CudaContext& get(int index);

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas();
  cudnnHandle_t cudnn();
  // The handles are created on first use, once, whichever threads ask at the same time.
  // A scratch buffer of at least `bytes` on this device's stream, shared by all
  // cuDNN calls (they run in stream order, so one buffer suffices). Grows on demand.
  void* workspace(size_t bytes);
  size_t workspace_size() const { return workspace_bytes_; }
  // The most any single op may ask of the workspace (ODEGAN_CUDNN_WORKSPACE_MB, default 256).
  size_t workspace_cap() const { return workspace_cap_; }
  // Waits for this device's stream, then raises what the device-side checks found.
  void synchronize();
  // The device-side check record (a device pointer into mapped host memory).
  DeviceErrorRecord* device_errors() const { return errors_device_; }
  // After a synchronisation: throws (and clears) the first failure a device-side check
  // recorded since the last call, naming the op, the position and the value.
  void raise_device_errors();

 private:
  explicit CudaContext(int index);
  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  std::once_flag cublas_once_, cudnn_once_;
  std::mutex workspace_mutex_;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  size_t workspace_cap_ = 0;
  DeviceErrorRecord* errors_host_ = nullptr;
  DeviceErrorRecord* errors_device_ = nullptr;
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
