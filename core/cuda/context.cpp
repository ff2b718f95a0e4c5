#include "core/cuda/context.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "core/cuda/cuda_check.h"
#include "core/sync_count.h"

namespace odegan {
namespace {
constexpr int kMaxDevices = 16;
std::mutex g_mutex;
CudaContext* g_contexts[kMaxDevices] = {};
}  // namespace

CudaContext& CudaContext::get(int index) {
  ODEGAN_CHECK(index >= 0 && index < kMaxDevices, "bad CUDA device index ", index);
  std::lock_guard<std::mutex> lock(g_mutex);
  // Contexts are never destroyed: work queued at exit still needs its stream.
  if (!g_contexts[index]) g_contexts[index] = new CudaContext(index);
  return *g_contexts[index];
}

CudaContext::CudaContext(int index) : device_(index) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    ODEGAN_FAIL("cuda:", index, " requested but no usable CUDA device: ", cudaGetErrorString(e));
  }
  ODEGAN_CHECK(index < count, "cuda:", index, " requested but only ", count, " CUDA device(s) present");
  CudaDeviceGuard guard(index);
  ODEGAN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  // Keep freed blocks in the stream-ordered pool instead of returning them to the
  // driver at every synchronisation: steady-state training then allocates nothing.
  cudaMemPool_t pool;
  ODEGAN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, index));
  uint64_t threshold = UINT64_MAX;
  ODEGAN_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  size_t cap_mb = 256;
  if (const char* env = std::getenv("ODEGAN_CUDNN_WORKSPACE_MB")) cap_mb = std::strtoull(env, nullptr, 10);
  workspace_cap_ = cap_mb << 20;
  void* rec = nullptr;
  ODEGAN_CUDA_CHECK(cudaHostAlloc(&rec, sizeof(DeviceErrorRecord), cudaHostAllocMapped));
  errors_host_ = static_cast<DeviceErrorRecord*>(rec);
  *errors_host_ = DeviceErrorRecord{0, nullptr, 0, 0, 0};
  void* dev = nullptr;
  ODEGAN_CUDA_CHECK(cudaHostGetDevicePointer(&dev, rec, 0));
  errors_device_ = static_cast<DeviceErrorRecord*>(dev);
}

void CudaContext::raise_device_errors() {
  // Written by kernels that completed before the caller's synchronisation: visible now.
  volatile DeviceErrorRecord* r = errors_host_;
  if (r->flag == 0) return;
  const std::string op = r->op ? r->op : "a CUDA kernel";
  const long long position = r->position, value = r->value, limit = r->limit;
  r->op = nullptr;
  r->flag = 0;
  ODEGAN_FAIL(op, ": index ", value, " at position ", position, " is out of range [0, ", limit, ") (found on cuda:",
              device_, " by a device-side check, reported at the next synchronisation)");
}

// call_once: two threads asking at once must not both create (and one leak) a handle,
// nor one see a handle before its stream is set. A throw leaves the flag unset (retry).
cublasHandle_t CudaContext::cublas() {
  std::call_once(cublas_once_, [this] {
    CudaDeviceGuard guard(device_);
    cublasHandle_t h = nullptr;
    ODEGAN_CUBLAS_CHECK(cublasCreate(&h));
    ODEGAN_CUBLAS_CHECK(cublasSetStream(h, stream_));
    // Full float32 precision (no TF32) unless asked: the tests compare against the CPU.
    ODEGAN_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    cublas_ = h;
  });
  return cublas_;
}

cudnnHandle_t CudaContext::cudnn() {
  std::call_once(cudnn_once_, [this] {
    CudaDeviceGuard guard(device_);
    cudnnHandle_t h = nullptr;
    ODEGAN_CUDNN_CHECK(cudnnCreate(&h));
    ODEGAN_CUDNN_CHECK(cudnnSetStream(h, stream_));
    cudnn_ = h;
  });
  return cudnn_;
}

void* CudaContext::workspace(size_t bytes) {
  std::lock_guard<std::mutex> lock(workspace_mutex_);
  if (bytes > workspace_bytes_) {
    CudaDeviceGuard guard(device_);
    if (workspace_) ODEGAN_CUDA_CHECK(cudaFreeAsync(workspace_, stream_));
    workspace_ = nullptr;
    ODEGAN_CUDA_CHECK(cudaMallocAsync(&workspace_, bytes, stream_));
    workspace_bytes_ = bytes;
  }
  return workspace_;
}

void CudaContext::synchronize() {
  CudaDeviceGuard guard(device_);
  note_sync();
  ODEGAN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  raise_device_errors();
}

CudaDeviceGuard::CudaDeviceGuard(int index) {
  ODEGAN_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != index) ODEGAN_CUDA_CHECK(cudaSetDevice(index));
}

CudaDeviceGuard::~CudaDeviceGuard() {
  int now = -1;
  if (cudaGetDevice(&now) == cudaSuccess && now != previous_ && previous_ >= 0) cudaSetDevice(previous_);
}

}  // namespace odegan
