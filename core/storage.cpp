#include "core/storage.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>

#include "core/error.h"

#ifdef ODEGAN_WITH_CUDA
#include "core/cuda/context.h"
#include "core/cuda/cuda_check.h"
#endif

namespace odegan {
namespace {

constexpr int kMaxCudaDevices = 16;

struct Counter {
  std::atomic<int64_t> current{0};
  std::atomic<int64_t> peak{0};
  void add(int64_t n) {
    int64_t now = current.fetch_add(n) + n;
    int64_t p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
  }
};

// Training allocates and frees the same few sizes thousands of times a second. Keep
// glibc from returning that memory to the kernel (and faulting it back in, zeroed, on
// the next step): raise the mmap and trim thresholds once.
void tune_host_allocator() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)done;
}

Counter& counter(Device d) {
  static Counter counters[1 + kMaxCudaDevices];
  return counters[d.is_cpu() ? 0 : 1 + d.index];
}

}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_cpu()) {
    tune_host_allocator();
    size_t rounded = (nbytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    ptr_ = std::aligned_alloc(64, rounded);
    ODEGAN_CHECK(ptr_ != nullptr, "out of host memory allocating ", nbytes, " bytes");
  } else {
#ifdef ODEGAN_WITH_CUDA
    ODEGAN_CHECK(device.index >= 0 && device.index < kMaxCudaDevices, "bad CUDA device index ", device.index);
    CudaContext& ctx = CudaContext::get(device.index);
    CudaDeviceGuard guard(device.index);
    if (nbytes > 0) ODEGAN_CUDA_CHECK(cudaMallocAsync(&ptr_, nbytes, ctx.stream()));
#else
    ODEGAN_FAIL("cannot allocate on ", device.str(), ": this build has no CUDA support");
#endif
  }
  counter(device).add(static_cast<int64_t>(nbytes));
}

Storage::~Storage() {
  counter(device_).add(-static_cast<int64_t>(nbytes_));
  if (device_.is_cpu()) {
    std::free(ptr_);
  } else {
#ifdef ODEGAN_WITH_CUDA
    if (ptr_) {
      CudaDeviceGuard guard(device_.index);
      // Destructors must not throw; a failure here means the context is already gone.
      cudaFreeAsync(ptr_, CudaContext::get(device_.index).stream());
    }
#endif
  }
}

MemoryStats memory_stats(Device device) {
  Counter& c = counter(device);
  return {c.current.load(), c.peak.load()};
}

void reset_peak_memory(Device device) {
  Counter& c = counter(device);
  c.peak.store(c.current.load());
}

}  // namespace odegan
