#include "prelu.h"

#include "autodiff/node.h"
#include "core/error.h"
#include "kernels/elementwise.h"

namespace example {
using namespace odegan;
using ad::Var;

namespace {

// The op's graph node: the backward of one prelu(x, a) call. It keeps its inputs (never
// its output: that would be a reference cycle) and returns one gradient per input.
class PReluBackward : public ad::Node {
 public:
  const char* name() const override { return "PReluBackward"; }
  std::vector<Var> apply(std::vector<Var>&& g) override {
    const Var x_ = unpack(x), a_ = unpack(a);  // the saved inputs
    // dy/dx = 1 where x > 0, a where x < 0;  dy/da = min(x, 0) = -relu(-x), summed over
    // the batch. Written with differentiable functions, so this backward can itself be
    // recorded (create_graph) and differentiated: d(dy/dx)/da = [x < 0] is what the
    // regulariser's double backward meets.
    Var gx, ga;
    if (need(0)) gx = ad::add(ad::relu_backward(g[0], x_), ad::mul(ad::relu_backward(g[0], ad::neg(x_)), a_));
    if (need(1)) ga = ad::sum_to(ad::neg(ad::mul(g[0], ad::relu(ad::neg(x_)))), a_.shape());
    return {gx, ga};
  }
  void release_saved() override { x.release(), a.release(); }
  ad::SavedVar x, a;
};

}  // namespace

Var prelu(const Var& x, const Var& a) {
  ODEGAN_CHECK(x.ndim() == 2 && a.ndim() == 1 && a.shape()[0] == x.shape()[1],
               "prelu: x must be (N, C) and a (C), got x ", x.shape().str(), " and a ", a.shape().str());
  // Forward with the kernels (no graph recorded): max(x, 0) + a * min(x, 0); a broadcasts
  // over the batch. The kernels run on the tensors' device (CPU or CUDA).
  using kernels::Binary;
  const Tensor zero = Tensor::zeros({}, x.dtype(), x.device());
  Tensor y = kernels::binary(Binary::add, kernels::binary(Binary::maximum, x.data(), zero),
                             kernels::binary(Binary::mul, kernels::binary(Binary::minimum, x.data(), zero), a.data()));
  // The node, when grad mode is on and x or a requires grad (null otherwise).
  auto node = ad::make_node<PReluBackward>({&x, &a});
  if (!node) return Var(y);
  node->x = ad::SavedVar(x, false);
  node->a = ad::SavedVar(a, false);
  return ad::make_output(y, node);
}

PReLU::PReLU(int64_t features, double init, DType dtype) : init_(init) {
  ODEGAN_CHECK(features > 0, "PReLU: features must be > 0, got ", features);
  slope_ = register_parameter("slope", Tensor::full({features}, init, dtype));
}

Var PReLU::forward(const Var& x) { return prelu(x, slope_); }

void PReLU::reset_parameters(Generator&, nn::Init) {
  slope_.data().fill_(init_);
}

}  // namespace example
