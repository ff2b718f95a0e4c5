// Device checks of whole modules: the same module state evaluated on the CPU and on
// another device, comparing the output and its first and second derivatives w.r.t. the
// differentiable inputs and every parameter.
#pragma once
#include <functional>
#include <vector>

#include "autodiff/gradcheck.h"
#include "layers/module.h"

namespace odegan::testing {

// Evaluates ad::derivatives(f, input leaves + m's parameters) on the CPU, then moves `m` and
// `inputs` (replaced by copies on `device`, same requires_grad) to `device` and evaluates
// again. Buffers (BN running statistics, spectral-norm vectors) are restored in between,
// so stateful forwards start from the same state on both devices. f reads `inputs` and
// the module, and must place its own constants (labels) on inputs[0]'s device.
ad::GradcheckResult compare_module_devices(nn::Module& m, std::vector<ad::Var>& inputs, const std::function<ad::Var()>& f,
                                           Device device, const ad::CompareOptions& options = {});

}  // namespace odegan::testing
