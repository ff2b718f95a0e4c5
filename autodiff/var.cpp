#include "autodiff/var.h"

#include "autodiff/node.h"

namespace odegan::ad {

namespace {
thread_local bool g_grad_enabled = true;

const VarImpl& checked(const std::shared_ptr<VarImpl>& p) {
  ODEGAN_CHECK(p != nullptr, "use of an undefined Var");
  return *p;
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
GradModeGuard::GradModeGuard(bool enabled) : previous_(g_grad_enabled) { g_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { g_grad_enabled = previous_; }

Var::Var(Tensor data, bool requires_grad) : impl_(std::make_shared<VarImpl>()) {
  check_defined(data, "Var", "data");
  ODEGAN_CHECK(!requires_grad || is_floating(data.dtype()), "Var: only float tensors can require grad, got ",
               describe(data));
  impl_->data = std::move(data);
  impl_->requires_grad = requires_grad;
}

const Tensor& Var::data() const { return checked(impl_).data; }

void Var::set_data(const Tensor& t) {
  checked(impl_);
  ODEGAN_CHECK(is_leaf(), "set_data: only leaves' data can be replaced");
  ODEGAN_CHECK(t.shape() == impl_->data.shape() && t.dtype() == impl_->data.dtype(), "set_data: ",
               describe(t), " does not match the variable's ", describe(impl_->data));
  impl_->data = t;
}

void Var::move_to(const Tensor& t) {
  checked(impl_);
  ODEGAN_CHECK(is_leaf(), "move_to: only leaves can move to new storage");
  ODEGAN_CHECK(t.shape() == impl_->data.shape(), "move_to: ", describe(t), " does not have the variable's shape ",
               describe(impl_->data));
  impl_->data = t;
  impl_->grad = Tensor();
}

bool Var::requires_grad() const { return checked(impl_).requires_grad; }

Var& Var::set_requires_grad(bool on) {
  checked(impl_);
  ODEGAN_CHECK(is_leaf(), "set_requires_grad: only leaves can change requires_grad");
  ODEGAN_CHECK(!on || is_floating(impl_->data.dtype()), "set_requires_grad: ", describe(impl_->data),
               " is not a float tensor");
  impl_->requires_grad = on;
  return *this;
}

bool Var::is_leaf() const { return checked(impl_).grad_fn == nullptr; }
const std::shared_ptr<Node>& Var::grad_fn() const { return checked(impl_).grad_fn; }
uint32_t Var::output_nr() const { return checked(impl_).output_nr; }
const Tensor& Var::grad() const { return checked(impl_).grad; }

void Var::set_grad(const Tensor& g) {
  checked(impl_);
  if (g.defined()) {
    ODEGAN_CHECK(g.shape() == impl_->data.shape() && g.dtype() == impl_->data.dtype() &&
                     g.device() == impl_->data.device(),
                 "set_grad: gradient ", describe(g), " does not match the variable's ", describe(impl_->data));
  }
  impl_->grad = g;
}

Var Var::detach() const { return Var(data(), false); }

const std::string& Var::name() const { return checked(impl_).name; }
Var& Var::set_name(const std::string& n) {
  checked(impl_);
  impl_->name = n;
  return *this;
}

Edge Var::gradient_edge() const {
  const VarImpl& v = checked(impl_);
  if (v.grad_fn) return {v.grad_fn, v.output_nr};
  if (!v.requires_grad) return {};
  if (!v.grad_accumulator) impl_->grad_accumulator = std::make_shared<AccumulateGrad>(impl_);
  return {v.grad_accumulator, 0};
}

Var make_output(Tensor data, const std::shared_ptr<Node>& node, uint32_t output_nr) {
  auto impl = std::make_shared<VarImpl>();
  impl->data = std::move(data);
  impl->requires_grad = node != nullptr;
  impl->grad_fn = node;
  impl->output_nr = output_nr;
  if (node) {
    if (node->outputs.size() <= output_nr) node->outputs.resize(output_nr + 1);
    node->outputs[output_nr] = {impl->data.shape(), impl->data.dtype(), impl->data.device()};
  }
  return Var(std::move(impl));
}

}  // namespace odegan::ad
