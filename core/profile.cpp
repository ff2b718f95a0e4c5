#include "core/profile.h"

#include <algorithm>
#include <map>
#include <mutex>

namespace odegan::profile {
namespace detail {
std::atomic<bool> g_enabled{false};

namespace {
std::mutex& mu() {
  static std::mutex m;
  return m;
}
// Keyed by name (not pointer): the same op name may come from different literals.
std::map<std::string, Entry>& totals() {
  static std::map<std::string, Entry> t;
  return t;
}
}  // namespace

int& depth() {
  thread_local int d = 0;
  return d;
}

void record(const char* name, double seconds) {
  std::lock_guard<std::mutex> lock(mu());
  Entry& e = totals()[name];
  if (e.name.empty()) e.name = name;
  ++e.calls;
  e.seconds += seconds;
}
void record_flops(const char* name, double flops) {
  std::lock_guard<std::mutex> lock(mu());
  Entry& e = totals()[name];
  if (e.name.empty()) e.name = name;
  e.flops += flops;
}
}  // namespace detail

void enable(bool on) { detail::g_enabled.store(on, std::memory_order_relaxed); }

void reset() {
  std::lock_guard<std::mutex> lock(detail::mu());
  detail::totals().clear();
}

std::vector<Entry> snapshot() {
  std::vector<Entry> out;
  {
    std::lock_guard<std::mutex> lock(detail::mu());
    for (const auto& kv : detail::totals()) out.push_back(kv.second);
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    return a.seconds != b.seconds ? a.seconds > b.seconds : a.name < b.name;
  });
  return out;
}

}  // namespace odegan::profile
