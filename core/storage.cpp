#include "core/storage.h"

#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

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

// Freed host blocks kept per thread for reuse, by exact 64-byte-rounded size: a training
// step allocates the same few sizes over and over, and glibc's aligned_alloc/free for
// blocks of tens of kilobytes (with its bin consolidation) cost about 10% of a small
// model's step. Blocks above kMaxBlock, or beyond kMaxCached per thread, go back to
// malloc. A block freed on another thread (a loader batch) joins that thread's cache.
class HostBlockCache {
 public:
  static constexpr size_t kMaxBlock = size_t(8) << 20, kMaxCached = size_t(64) << 20;
  void* take(size_t rounded) {
    auto it = free_.find(rounded);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= rounded;
    return p;
  }
  bool give(void* p, size_t rounded) {
    if (rounded > kMaxBlock || cached_ + rounded > kMaxCached) return false;
    free_[rounded].push_back(p);
    cached_ += rounded;
    return true;
  }
  ~HostBlockCache();

 private:
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

// Set when this thread's cache is destroyed (thread exit): later frees go to free().
thread_local bool t_cache_gone = false;
thread_local HostBlockCache t_cache;

HostBlockCache::~HostBlockCache() {
  t_cache_gone = true;
  for (auto& [size, blocks] : free_)
    for (void* p : blocks) std::free(p);
}

size_t host_rounded(size_t nbytes) { return nbytes == 0 ? 64 : (nbytes + 63) / 64 * 64; }

void* host_alloc(size_t nbytes) {
  const size_t rounded = host_rounded(nbytes);
  if (!t_cache_gone)
    if (void* p = t_cache.take(rounded)) return p;
  return std::aligned_alloc(64, rounded);
}

void host_free(void* p, size_t nbytes) {
  if (!p) return;
  if (!t_cache_gone && t_cache.give(p, host_rounded(nbytes))) return;
  std::free(p);
}

#ifdef ODEGAN_WITH_CUDA
// Frees device memory without throwing (a destructor that throws is std::terminate, and
// after a sticky CUDA error -- an illegal address in some kernel -- every CUDA call fails:
// the program must live on to report that first error, not die here). The first failure
// is logged; later ones are counted silently (they all share the one cause).
void free_device(void* p, int index) noexcept {
  static std::atomic<bool> logged{false};
  std::string why;
  try {
    CudaContext& ctx = CudaContext::get(index);
    int previous = -1;
    cudaError_t e = cudaGetDevice(&previous);
    if (e == cudaSuccess && previous != index) e = cudaSetDevice(index);
    if (e == cudaSuccess) e = cudaFreeAsync(p, ctx.stream());
    if (previous >= 0 && previous != index) cudaSetDevice(previous);
    if (e == cudaSuccess) return;
    why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  } catch (const std::exception& ex) {
    why = ex.what();
  } catch (...) {
    why = "unknown error";
  }
  if (!logged.exchange(true))
    std::fprintf(stderr, "odegan: warning: freeing CUDA memory on cuda:%d failed (%s); the memory is leaked. "
                 "Later failures are not reported.\n", index, why.c_str());
}
#endif

Counter& counter(Device d) {
  static Counter counters[1 + kMaxCudaDevices];
  return counters[d.is_cpu() ? 0 : 1 + d.index];
}

}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_cpu()) {
    tune_host_allocator();
    ptr_ = host_alloc(nbytes);
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
    host_free(ptr_, nbytes_);
  } else {
#ifdef ODEGAN_WITH_CUDA
    if (ptr_) free_device(ptr_, device_.index);
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
