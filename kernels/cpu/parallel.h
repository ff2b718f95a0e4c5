// Splitting CPU loops across cores with our own small thread pool. Small loops stay
// serial: waking threads costs more than a few thousand elements of arithmetic.
//
// Why not OpenMP: its idle workers spin at full speed for a while after every parallel
// loop, which is fine on a machine of one's own but, when another job shares the cores,
// slowed our training 2-6x (see docs/benchmarks.md). These workers spin only a few
// microseconds, then sleep.
//
// Results never depend on the number of threads: the loop is cut into the same chunks
// whoever runs them, and each chunk writes its own outputs.
#pragma once
#include <cstdint>
#include <functional>

namespace odegan::kernels::cpu {

constexpr int64_t kParallelGrain = 1 << 15;

// Threads that take part in a parallel loop, the caller included: ODEGAN_NUM_THREADS,
// else OMP_NUM_THREADS, else the cores this process may run on.
int num_threads();

// Runs task(c) for every c in [0, chunks), spread over the pool and the calling thread,
// and returns when all are done. Serial when called from inside a parallel loop, when
// another thread's loop holds the pool, or with one thread. The first exception thrown
// by a task is rethrown here (after all chunks have finished or been skipped).
void run_chunks(int64_t chunks, const std::function<void(int64_t)>& task);

// Calls f(begin, end) over [0, n) in chunks of `grain`; parallel only when n >= grain.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (grain > 0 && n >= grain) {
    const int64_t chunks = (n + grain - 1) / grain;
    if (chunks > 1) {
      run_chunks(chunks, [&](int64_t c) {
        const int64_t b = c * grain, e = b + grain < n ? b + grain : n;
        f(b, e);
      });
      return;
    }
  }
  if (n > 0) f(int64_t(0), n);
}

}  // namespace odegan::kernels::cpu
