// The CPU thread pool: every index exactly once, nested and concurrent loops, errors.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace odegan::kernels::cpu {
namespace {

// Counts how often each index of [0, n) was visited by parallel_for(n, grain).
std::vector<int> visits(int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
    EXPECT_LE(e - b, grain > 0 && n >= grain ? grain : n);
    for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)].fetch_add(1);
  });
  std::vector<int> out;
  for (auto& s : seen) out.push_back(s.load());
  return out;
}

TEST(Parallel, EveryIndexExactlyOnce) {
  for (int64_t n : {0, 1, 7, 100, 1000, 4097})
    for (int64_t grain : {1, 3, 64, 5000}) {
      std::vector<int> v = visits(n, grain);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(v[static_cast<size_t>(i)], 1) << "n " << n << " grain " << grain;
    }
  EXPECT_GE(num_threads(), 1);
}

TEST(Parallel, NestedLoopsRunAndCoverEverything) {
  std::atomic<int64_t> total{0};
  parallel_for(16, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      parallel_for(100, 7, [&](int64_t b2, int64_t e2) { total.fetch_add(e2 - b2); });
  });
  EXPECT_EQ(total.load(), 1600);
}

TEST(Parallel, ConcurrentCallersEachGetTheirOwnLoop) {
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      for (int rep = 0; rep < 200; ++rep) {
        std::vector<int> v = visits(257 + t, 16);
        for (int x : v) wrong += x != 1;
      }
    });
  for (auto& c : callers) c.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Parallel, FirstErrorReachesTheCallerAndThePoolStaysUsable) {
  EXPECT_THROW(parallel_for(64, 1,
                            [](int64_t b, int64_t) {
                              if (b == 40) throw std::runtime_error("chunk 40 failed");
                            }),
               std::runtime_error);
  std::vector<int> v = visits(1000, 10);
  for (int x : v) ASSERT_EQ(x, 1);
}

}  // namespace
}  // namespace odegan::kernels::cpu
