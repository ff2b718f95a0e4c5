// Where the time goes: wall time and call counts per kernel, summed while profiling is on.
// Every kernel family enters through ODEGAN_DISPATCH_DEVICE (kernels/dispatch.h), which
// opens a Scope named after the op; a scope inside another (a kernel calling a kernel)
// counts towards the outer one only, so the totals add up to the time spent in kernels.
// Off by default: a closed switch costs one relaxed atomic load per kernel call. The
// gemm and the convolutions also report their arithmetic (add_flops), so a profile gives
// each one's GFLOP/s and the step's total, against which the machine's peak is a floor.
//   profile::enable(true); ...work...; for (auto& e : profile::snapshot()) ...
// On CUDA the times are those of the host calls (launches), not of the device work.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace odegan::profile {

struct Entry {
  std::string name;
  int64_t calls = 0;
  double seconds = 0;
  double flops = 0;  // floating-point operations, for the kernels that report them (gemm, convolutions)
};

namespace detail {
extern std::atomic<bool> g_enabled;
void record(const char* name, double seconds);
void record_flops(const char* name, double flops);
int& depth();
}  // namespace detail

inline bool enabled() { return detail::g_enabled.load(std::memory_order_relaxed); }
void enable(bool on);
// Adds `flops` floating-point operations (a multiply-add counts 2) to kernel `name`,
// when profiling is on.
inline void add_flops(const char* name, double flops) {
  if (enabled()) detail::record_flops(name, flops);
}
// Clears the totals.
void reset();
// The totals so far, the most expensive first.
std::vector<Entry> snapshot();

class Scope {
 public:
  explicit Scope(const char* name) {
    if (!enabled()) return;
    active_ = true;
    if (detail::depth()++ == 0) {
      name_ = name;
      start_ = std::chrono::steady_clock::now();
    }
  }
  ~Scope() {
    if (!active_) return;
    --detail::depth();
    if (name_) detail::record(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool active_ = false;
  const char* name_ = nullptr;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace odegan::profile
