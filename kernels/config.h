// Global kernel settings.
#pragma once

namespace odegan::kernels {

// Deterministic mode: cuDNN algorithms are restricted to deterministic ones and no kernel
// uses floating-point atomics, so two runs on the same GPU give identical bits.
// The CPU kernels are always deterministic. Default: off (also read from
// ODEGAN_DETERMINISTIC=1 at start-up).
void set_deterministic(bool on);
bool deterministic();

// TF32 tensor-core math for float32 convolutions on Ampere and newer GPUs: faster, with
// about 1e-3 relative error. Default off (full float32, as the CPU), or
// ODEGAN_ALLOW_TF32=1 at start-up.
void set_allow_tf32(bool on);
bool allow_tf32();

}  // namespace odegan::kernels
