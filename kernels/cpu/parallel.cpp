// The CPU thread pool behind parallel_for (see parallel.h for why it is not OpenMP).
//
// One job at a time: the caller publishes a Job (on its own stack) and takes chunks from
// it alongside the workers, by an atomic counter. Workers join a job under the pool's
// mutex and are counted; the caller unpublishes the job under the same mutex once every
// chunk is done, then waits for the joined workers to leave, so the Job outlives every
// use of it.
#include "kernels/cpu/parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

namespace odegan::kernels::cpu {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Spin iterations before a worker sleeps or a waiting caller yields: a few microseconds,
// enough to catch the back-to-back loops of one training step without holding a core
// that another job needs.
constexpr int kSpin = 2000;

int threads_from_environment() {
  // Ours must be a positive integer; OMP_NUM_THREADS may be an OpenMP list ("4,2"), of
  // which the first number counts, and is ignored when it is not one.
  if (const char* v = std::getenv("ODEGAN_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    ODEGAN_CHECK(end != v && *end == '\0' && n >= 1, "ODEGAN_NUM_THREADS='", v, "': expected a positive integer");
    return static_cast<int>(std::min<long>(n, 256));
  }
  if (const char* v = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (end != v && n >= 1) return static_cast<int>(std::min<long>(n, 256));
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

thread_local bool t_in_parallel = false;

struct Job {
  const std::function<void(int64_t)>* task = nullptr;
  int64_t chunks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<int> joined{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;

  // Takes and runs chunks until none are left.
  void run_chunks() {
    const bool outer = t_in_parallel;
    t_in_parallel = true;
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      if (!failed.load(std::memory_order_relaxed)) {
        try {
          (*task)(c);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
          failed.store(true);
        }
      }
      done.fetch_add(1, std::memory_order_acq_rel);
    }
    t_in_parallel = outer;
  }
};

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  // Never destroyed (see pool()): workers sleep until the process exits.

  // Runs the job on the pool; false (nothing run) when another thread's job holds it.
  bool try_run(Job& job) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    job.run_chunks();
    for (int spins = 0; job.done.load(std::memory_order_acquire) < job.chunks; ++spins)
      spins < kSpin ? cpu_relax() : std::this_thread::yield();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = nullptr;  // no worker joins from now on
    }
    for (int spins = 0; job.joined.load(std::memory_order_acquire) > 0; ++spins)
      spins < kSpin ? cpu_relax() : std::this_thread::yield();
    return true;
  }

 private:
  void work() {
    uint64_t seen = 0;
    for (;;) {
      for (int i = 0; i < kSpin && generation_.load(std::memory_order_acquire) == seen; ++i) cpu_relax();
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
        seen = generation_.load(std::memory_order_relaxed);
        job = job_;
        if (job) job->joined.fetch_add(1, std::memory_order_relaxed);
      }
      if (!job) continue;  // woke after that job was finished
      job->run_chunks();
      job->joined.fetch_sub(1, std::memory_order_release);
    }
  }

  std::vector<std::thread> threads_;
  std::mutex run_mutex_;  // one job at a time
  std::mutex mutex_;      // guards job_ and the workers' joining
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  Job* job_ = nullptr;
};

Pool& pool() {
  // Leaked on purpose: joining sleeping workers during static destruction gains nothing
  // and would race with other static destructors that still run kernels.
  static Pool* p = new Pool(num_threads() - 1);
  return *p;
}

}  // namespace

int num_threads() {
  static const int n = threads_from_environment();
  return n;
}

void run_chunks(int64_t chunks, const std::function<void(int64_t)>& task) {
  if (chunks <= 0) return;
  Job job;
  job.task = &task;
  job.chunks = chunks;
  if (chunks == 1 || t_in_parallel || num_threads() == 1 || !pool().try_run(job)) job.run_chunks();
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace odegan::kernels::cpu
