// A count of host-device synchronisations, so tests and benchmarks can check that a
// training step does not stall the GPU. Counted: every stream synchronisation and
// blocking copy the library makes on CUDA, and every read of tensor values on the host
// (to_vector, item, all_finite) — for a CPU tensor that read is not a sync, but it would
// be one if the tensor lived on a GPU, so CPU-only builds count the same hot-path calls.
#pragma once
#include <cstdint>

namespace odegan {

// Synchronisations (real or would-be) since start-up, over all threads.
int64_t sync_count();
// Called at each place that synchronises the host with a device (or would).
void note_sync();

}  // namespace odegan
