// Global kernel settings.
#pragma once

namespace odegan::kernels {

// Deterministic mode: cuDNN algorithms are restricted to deterministic ones and no kernel
// uses floating-point atomics, so two runs on the same GPU give identical bits.
// The CPU kernels are always deterministic. Default: off (also read from
// ODEGAN_DETERMINISTIC=1 at start-up).
void set_deterministic(bool on);
bool deterministic();

}  // namespace odegan::kernels
