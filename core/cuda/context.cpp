#include "core/cuda/context.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "core/cuda/cuda_check.h"

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
}

cublasHandle_t CudaContext::cublas() {
  if (!cublas_) {
    CudaDeviceGuard guard(device_);
    ODEGAN_CUBLAS_CHECK(cublasCreate(&cublas_));
    ODEGAN_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    // Full float32 precision (no TF32) unless asked: the tests compare against the CPU.
    ODEGAN_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  }
  return cublas_;
}

cudnnHandle_t CudaContext::cudnn() {
  if (!cudnn_) {
    CudaDeviceGuard guard(device_);
    ODEGAN_CUDNN_CHECK(cudnnCreate(&cudnn_));
    ODEGAN_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}

void* CudaContext::workspace(size_t bytes) {
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
  ODEGAN_CUDA_CHECK(cudaStreamSynchronize(stream_));
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
