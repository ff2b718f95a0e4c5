// Checks of derivative rules, in float64 on any device:
//   gradcheck:     the vector-Jacobian product from backward vs. central differences;
//   gradgradcheck: the same for the function (inputs, v) -> grad(f(inputs), inputs, v)
//                  computed with create_graph, i.e. second derivatives;
//   compare_devices / compare: a function's value and derivatives on one device (CUDA)
//                  against the same on the CPU.
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
  // Build the graphs and list their nodes (GradcheckResult::functions) without the
  // finite differences: what a check would exercise, at the cost of one evaluation.
  bool functions_only = false;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;   // what failed: input, element, both values
  double max_abs_error = 0;
  int64_t checked = 0;   // coordinates compared
  // The graph nodes (node_type_names() entries) whose derivative rules this check ran.
  std::vector<std::string> functions;
  explicit operator bool() const { return ok; }
};

using DifferentiableFn = std::function<Var(const std::vector<Var>&)>;

// f maps leaf Vars (float64, all requiring grad, on the inputs' device) to any output.
GradcheckResult gradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
GradcheckResult gradgradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {});

// The same for a function of existing leaves (e.g. a module's parameters and an input):
// f() is evaluated as the checker perturbs the leaves' data in place (restored after).
// Leaves may live on any device (a CUDA leaf is perturbed one element at a time by a fill).
GradcheckResult gradcheck_leaves(const std::function<Var()>& f, const std::vector<Var>& leaves,
                                 const GradcheckOptions& options = {});
GradcheckResult gradgradcheck_leaves(const std::function<Var()>& f, const std::vector<Var>& leaves,
                                     const GradcheckOptions& options = {});

// A function's value and derivatives at its leaves, copied to the CPU (float64), for
// comparing backends: value = f(); first[i] = d<v, f>/d leaf_i for a seeded random v;
// with order 2, second[i] = d<u, first>/d leaf_i for seeded random u_i, and second.back()
// the same w.r.t. v (the mixed second derivatives the regulariser needs). The random
// directions are drawn on the CPU, so every device gets the same ones. Leaves the output
// does not depend on get zeros.
struct Derivatives {
  Tensor value;
  std::vector<Tensor> first, second;
};
Derivatives derivatives(const std::function<Var()>& f, const std::vector<Var>& leaves, int order = 2,
                        uint64_t seed = 1);

struct CompareOptions {
  // |a - b| <= atol * scale + rtol * |b| elementwise, where scale = max(1, max |b|) over the
  // tensor: results that are sums of cancelling terms are judged against the size of
  // what was summed, not against their own (possibly tiny) size.
  double rtol = 1e-10;
  double atol = 1e-12;
  int order = 2;
  uint64_t seed = 1;
};
// a (e.g. CUDA) against b (the CPU reference); the message names the first mismatch.
GradcheckResult compare(const Derivatives& a, const Derivatives& b, const CompareOptions& options = {});
// derivatives() of f at copies of `inputs` on `device` against the same on the CPU.
GradcheckResult compare_devices(const DifferentiableFn& f, const std::vector<Tensor>& inputs, Device device,
                                const CompareOptions& options = {});

}  // namespace odegan::ad
