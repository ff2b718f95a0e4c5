// Finite-difference checks of derivative rules, in float64 on the CPU:
//   gradcheck:     the vector-Jacobian product from backward vs. central differences;
//   gradgradcheck: the same for the function (inputs, v) -> grad(f(inputs), inputs, v)
//                  computed with create_graph, i.e. second derivatives.
// As in Caffe's checker, a "kink" window skips input coordinates that sit within `kink`
// of 0, where ReLU-like functions are not differentiable.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autodiff/var.h"

namespace odegan::ad {

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-7;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-5;
  double kink = 0.0;   // skip coordinates with |x| < kink (0: check all)
  uint64_t seed = 1;   // for the random cotangent directions
};

struct GradcheckResult {
  bool ok = true;
  std::string message;   // what failed: input, element, both values
  double max_abs_error = 0;
  int64_t checked = 0;   // coordinates compared
  explicit operator bool() const { return ok; }
};

using DifferentiableFn = std::function<Var(const std::vector<Var>&)>;

// f maps leaf Vars (float64, CPU, all requiring grad) to any output.
GradcheckResult gradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
GradcheckResult gradgradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {});

// The same for a function of existing leaves (e.g. a module's parameters and an input):
// f() is evaluated as the checker perturbs the leaves' data in place (restored after).
GradcheckResult gradcheck_leaves(const std::function<Var()>& f, const std::vector<Var>& leaves,
                                 const GradcheckOptions& options = {});
GradcheckResult gradgradcheck_leaves(const std::function<Var()>& f, const std::vector<Var>& leaves,
                                     const GradcheckOptions& options = {});

}  // namespace odegan::ad
