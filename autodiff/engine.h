// The backward engine: reverse-mode gradients over the recorded graph, in an iterative
// topological order (deep graphs never recurse), visiting only the parts of the graph
// that lead to the requested inputs.
#pragma once
#include <functional>
#include <optional>
#include <vector>

#include "autodiff/var.h"

namespace odegan::ad {

struct GradOptions {
  // Record the backward computation so its results can be differentiated again.
  bool create_graph = false;
  // Keep saved tensors for another backward pass (default: = create_graph).
  std::optional<bool> retain_graph;
  // An input that the outputs do not depend on gets an undefined Var instead of an error.
  bool allow_unused = false;
};

// d(sum_j <grad_outputs[j], outputs[j]>) / d(inputs[i]) for each input. Empty
// grad_outputs means ones for every output. Leaves' .grad are not touched.
std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs = {}, const GradOptions& options = {});
inline Var grad(const Var& output, const Var& input, const GradOptions& options = {}) {
  return grad(std::vector<Var>{output}, std::vector<Var>{input}, {}, options)[0];
}

// Partial derivatives: like grad(), but the traversal stops at the inputs, so paths
// from one input through another are not followed. Derivative rules of composite
// functions use it to differentiate their own decomposition with respect to their
// arguments. Unused inputs give undefined Vars.
std::vector<Var> partial_vjp(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                             const std::vector<Var>& grad_outputs, bool create_graph);

// How backward() writes into a leaf's .grad.
enum class GradWrite {
  accumulate,  // .grad += gradient (the default, as in PyTorch)
  overwrite,   // .grad = gradient (leaves not reached this pass keep their old .grad)
};

struct BackwardOptions {
  bool retain_graph = false;
  bool create_graph = false;
  GradWrite write = GradWrite::accumulate;
  // Only these leaves receive gradients (empty: every leaf the outputs depend on).
  std::vector<Var> inputs;
  // Called with i as soon as inputs[i]'s gradient is written and final for this pass
  // (every path to it has delivered), while the rest of the graph is still to run: where
  // data parallelism starts all-reducing a bucket of finished gradients. Inputs the
  // outputs do not reach are never announced.
  std::function<void(size_t input)> on_input_ready;
};

// Writes gradients into the .grad of leaves. A leaf's preset .grad tensor (set_grad, e.g.
// a view into a flat buffer) is written in place.
void backward(const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs = {},
              const BackwardOptions& options = {});
inline void backward(const Var& output, const BackwardOptions& options = {}) {
  backward(std::vector<Var>{output}, {}, options);
}

}  // namespace odegan::ad
