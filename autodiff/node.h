// Graph nodes. A Node is the backward of one differentiable function call: it receives
// the gradients of that call's outputs and returns the gradients of its inputs, computed
// with differentiable functions, so that the backward pass can itself be recorded and
// differentiated again (create_graph).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/var.h"

namespace odegan::ad {

struct VarImpl {
  Tensor data;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  uint32_t output_nr = 0;
  Tensor grad;                             // leaves: what backward() accumulates
  std::shared_ptr<Node> grad_accumulator;  // leaves that require grad, created lazily
  std::string name;
  ~VarImpl();
};

// Shape, dtype and device of a node's output: enough to make a zero gradient for it.
struct OutputMeta {
  Shape shape;
  DType dtype = DType::f32;
  Device device;
};

class SavedVar;

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The function's name as users see it in errors ("MulBackward").
  virtual const char* name() const = 0;
  // grads[i] is the gradient of output i (never undefined: the engine fills zeros).
  // Returns one entry per input (next_edges order); an undefined Var means "no gradient"
  // and is allowed for inputs that need none (see needs_input_grad).
  virtual std::vector<Var> apply(std::vector<Var>&& grads) = 0;
  // Frees saved tensors once the graph is not to be reused (retain_graph = false).
  virtual void release_saved() {}

  // Where the gradients of this function's inputs go (invalid edge: input needs none).
  std::vector<Edge> next_edges;
  std::vector<OutputMeta> outputs;
  // Creation order: the engine runs later nodes first.
  uint64_t sequence_nr;

  // Set by the engine before apply(): whether input i's gradient is wanted this pass.
  bool needs_input_grad(size_t i) const { return i < needed_.size() && needed_[i]; }
  std::vector<bool> needed_;

 protected:
  // For derivative rules: need(i) = needs_input_grad(i); unpack(s) = the saved Var s,
  // rebuilt (outputs point back at this node).
  bool need(size_t i) const { return needs_input_grad(i); }
  Var unpack(const SavedVar& s);
};

// A saved Var: inputs are kept as themselves; outputs keep only their data and are
// rebuilt on unpack pointing at the owning node (keeping the node would be a cycle).
class SavedVar {
 public:
  SavedVar() = default;
  SavedVar(const Var& v, bool is_output);
  ~SavedVar();
  SavedVar(SavedVar&&) = default;
  SavedVar& operator=(SavedVar&&) = default;

  // Throws a clear error when the graph was freed by an earlier backward pass.
  Var unpack(Node& owner) const;
  void release();
  bool defined() const { return defined_; }

 private:
  std::shared_ptr<VarImpl> impl_;  // inputs
  Tensor data_;                    // outputs
  uint32_t output_nr_ = 0;
  bool is_output_ = false;
  bool defined_ = false;
  bool released_ = false;
};

// Accumulates the gradient a leaf receives into its .grad (backward()).
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(const std::shared_ptr<VarImpl>& leaf);
  const char* name() const override { return "AccumulateGrad"; }
  std::vector<Var> apply(std::vector<Var>&& grads) override;
  // true: .grad += g; false: .grad = g (overwrite). Set by the engine per pass.
  bool accumulate = true;
  std::weak_ptr<VarImpl> leaf;
};

// Records a node for a function call with these inputs when grad mode is on and any
// input requires grad; returns null otherwise (then nothing is recorded).
template <class N, class... Args>
std::shared_ptr<N> make_node(std::initializer_list<const Var*> inputs, Args&&... args);

bool any_requires_grad(std::initializer_list<const Var*> inputs);
void set_next_edges(Node& node, std::initializer_list<const Var*> inputs);
void set_next_edges(Node& node, const std::vector<Var>& inputs);

template <class N, class... Args>
std::shared_ptr<N> make_node(std::initializer_list<const Var*> inputs, Args&&... args) {
  if (!grad_enabled() || !any_requires_grad(inputs)) return nullptr;
  auto node = std::make_shared<N>(std::forward<Args>(args)...);
  set_next_edges(*node, inputs);
  return node;
}

// The names of every derivative-rule node declared in autodiff/nodes.h (sorted), and of the
// nodes recorded in the graphs behind `outputs` (sorted, unique): together they let a test
// prove that every differentiable function is exercised by some gradient check.
std::vector<std::string> node_type_names();
std::vector<std::string> graph_node_names(const std::vector<Var>& outputs);

namespace detail {
// Releases every saved Var of a node (ODEGAN_SAVED's release_saved).
template <class... S>
void release_saved_vars(S&... saved) {
  (saved.release(), ...);
}
// Adds a node type to node_type_names() (called from ODEGAN_NODE at static initialisation).
bool list_node_type(const char* name);
// Drops a shared pointer without recursion: chains of a million nodes would otherwise
// overflow the stack when the last reference goes (each destructor releasing the next).
void release_later(std::shared_ptr<void>&& p);
}  // namespace detail

}  // namespace odegan::ad
