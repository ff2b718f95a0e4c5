#include "core/staging.h"

#include <cstdio>
#include <cstring>

#include "core/sync_count.h"

#ifdef ODEGAN_WITH_CUDA
#include "core/cuda/context.h"
#include "core/cuda/cuda_check.h"
#endif

namespace odegan {

DeviceUploader::DeviceUploader(Device device, int buffers) : device_(device) {
  ODEGAN_CHECK(buffers >= 1, "DeviceUploader: needs at least one buffer, got ", buffers);
  if (device.is_cuda()) {
#ifdef ODEGAN_WITH_CUDA
    CudaContext::get(device.index);  // a clear error for a missing device, up front
    buffers_.resize(static_cast<size_t>(buffers));
#else
    ODEGAN_FAIL("DeviceUploader: cannot upload to ", device.str(), ": this build has no CUDA support");
#endif
  }
}

DeviceUploader::~DeviceUploader() {
#ifdef ODEGAN_WITH_CUDA
  // The buffers may still be read by queued copies: wait for them before freeing. Never
  // throws (a failing device has already reported its error elsewhere).
  for (Buffer& b : buffers_) {
    if (b.done) {
      cudaEventSynchronize(static_cast<cudaEvent_t>(b.done));
      cudaEventDestroy(static_cast<cudaEvent_t>(b.done));
    }
    if (b.host) cudaFreeHost(b.host);
  }
#endif
}

void DeviceUploader::wait(Buffer& b) {
#ifdef ODEGAN_WITH_CUDA
  if (!b.pending) return;
  cudaEvent_t e = static_cast<cudaEvent_t>(b.done);
  cudaError_t q = cudaEventQuery(e);
  if (q == cudaErrorNotReady) {  // only now does the host wait for the device
    note_sync();
    ODEGAN_CUDA_CHECK(cudaEventSynchronize(e));
  } else {
    ODEGAN_CUDA_CHECK(q);
  }
  b.pending = false;
#else
  (void)b;
#endif
}

Tensor DeviceUploader::upload(const void* src, const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype, device_);
  const size_t nbytes = t.nbytes();
  if (device_.is_cpu()) {
    if (nbytes) std::memcpy(t.data_ptr(), src, nbytes);
    return t;
  }
#ifdef ODEGAN_WITH_CUDA
  if (nbytes == 0) return t;
  CudaContext& ctx = CudaContext::get(device_.index);
  CudaDeviceGuard guard(device_.index);
  Buffer& b = buffers_[next_];
  next_ = (next_ + 1) % buffers_.size();
  wait(b);
  if (b.capacity < nbytes) {
    if (b.host) ODEGAN_CUDA_CHECK(cudaFreeHost(b.host));
    b.host = nullptr;
    b.capacity = 0;
    ODEGAN_CUDA_CHECK(cudaHostAlloc(&b.host, nbytes, cudaHostAllocDefault));
    b.capacity = nbytes;
  }
  if (!b.done) {
    cudaEvent_t e = nullptr;
    ODEGAN_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    b.done = e;
  }
  std::memcpy(b.host, src, nbytes);
  ODEGAN_CUDA_CHECK(cudaMemcpyAsync(t.data_ptr(), b.host, nbytes, cudaMemcpyHostToDevice, ctx.stream()));
  ODEGAN_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(b.done), ctx.stream()));
  b.pending = true;
#endif
  return t;
}

}  // namespace odegan
