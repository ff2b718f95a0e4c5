#include "core/sync_count.h"

#include <atomic>

namespace odegan {
namespace {
std::atomic<int64_t> g_syncs{0};
}  // namespace

int64_t sync_count() { return g_syncs.load(std::memory_order_relaxed); }
void note_sync() { g_syncs.fetch_add(1, std::memory_order_relaxed); }

}  // namespace odegan
