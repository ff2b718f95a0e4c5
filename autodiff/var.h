// Var: a tensor plus its place in the autodiff graph. A leaf Var (a parameter or an
// input) has no grad_fn; a Var computed by a differentiable function points to the Node
// that made it, and through it to everything it depends on.
#pragma once
#include <memory>
#include <string>

#include "core/tensor.h"

namespace odegan::ad {

class Node;
struct VarImpl;

// Where a gradient for a Var goes: input slot `slot` of `node` (the Var's grad_fn and
// output number, or a leaf's gradient accumulator).
struct Edge {
  std::shared_ptr<Node> node;
  uint32_t slot = 0;
  bool valid() const { return node != nullptr; }
};

class Var {
 public:
  Var() = default;
  // A leaf holding `data`. The Var shares the tensor (no copy).
  explicit Var(Tensor data, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& data() const;
  // Replaces the data of a leaf (same shape); used by solvers that move parameters.
  void set_data(const Tensor& t);
  // Leaves only: moves the variable onto new storage `t` (same shape; the dtype and device
  // may change, as when a module packs its parameters into one flat buffer). The gradient
  // is dropped; set_grad() gives it its new buffer.
  void move_to(const Tensor& t);
  bool requires_grad() const;
  // Leaves only: turns gradient tracking on or off.
  Var& set_requires_grad(bool on);
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;
  uint32_t output_nr() const;

  // The gradient accumulated by backward() (leaves only); undefined before the first one.
  const Tensor& grad() const;
  // Presets the tensor backward() writes into (e.g. a view into a flat gradient buffer).
  void set_grad(const Tensor& g);

  // The same data, cut from the graph.
  Var detach() const;

  const std::string& name() const;
  Var& set_name(const std::string& n);

  // Tensor conveniences.
  const Shape& shape() const { return data().shape(); }
  int ndim() const { return data().ndim(); }
  int64_t size(int axis) const { return data().size(axis); }
  int64_t numel() const { return data().numel(); }
  DType dtype() const { return data().dtype(); }
  Device device() const { return data().device(); }
  double item() const { return data().item(); }

  // The edge a gradient for this Var flows into (creates a leaf's accumulator lazily).
  // Invalid when the Var does not require grad.
  Edge gradient_edge() const;

  // Identity (two Var handles to the same variable).
  bool same(const Var& o) const { return impl_ == o.impl_; }
  const std::shared_ptr<VarImpl>& impl() const { return impl_; }
  explicit Var(std::shared_ptr<VarImpl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<VarImpl> impl_;
};

// Makes `data` the output number `output_nr` of `node` (it requires grad).
Var make_output(Tensor data, const std::shared_ptr<Node>& node, uint32_t output_nr = 0);

// ---- grad mode: when off, differentiable functions record nothing.
bool grad_enabled();
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};
// Nothing inside its scope is recorded (e.g. solver updates, evaluation).
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

}  // namespace odegan::ad
