// A layer added outside the framework, against the installed package: PReLU, the ReLU
// with a learnable slope per feature (He et al., 2015),
//   y = max(x, 0) + a * min(x, 0),    x (N, C), a (C).
// It shows the three pieces every layer has: a differentiable op (forward computed with
// the kernels, a graph node holding what its rule needs, the rule written with
// differentiable functions so that gradients of gradients work: the ODE-GAN regulariser
// needs them), and the module that owns the parameter.
#pragma once
#include <memory>
#include <string>

#include "autodiff/functions.h"
#include "layers/module.h"

namespace example {

// The op: differentiable w.r.t. x and a, to any order.
odegan::ad::Var prelu(const odegan::ad::Var& x, const odegan::ad::Var& a);

// The layer: `features` slopes, initialised to `init` (0.25, as the paper).
class PReLU : public odegan::nn::Module {
 public:
  explicit PReLU(int64_t features, double init = 0.25, odegan::DType dtype = odegan::DType::f32);
  std::string type_name() const override { return "PReLU"; }
  odegan::ad::Var forward(const odegan::ad::Var& x) override;
  void reset_parameters(odegan::Generator& gen, odegan::nn::Init init) override;
  odegan::ad::Var& slope() { return slope_; }

 private:
  odegan::ad::Var slope_;
  double init_;
};

}  // namespace example
