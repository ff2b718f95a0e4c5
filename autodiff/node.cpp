#include "autodiff/node.h"

#include <atomic>
#include <set>
#include <string>
#include <unordered_set>

#include "kernels/elementwise.h"

namespace odegan::ad {

namespace {
std::set<std::string>& node_type_registry() {
  static std::set<std::string> names;  // filled during static initialisation (single-threaded)
  return names;
}
}  // namespace

std::vector<std::string> node_type_names() {
  const std::set<std::string>& r = node_type_registry();
  return {r.begin(), r.end()};
}

std::vector<std::string> graph_node_names(const std::vector<Var>& outputs) {
  std::set<std::string> names;
  std::unordered_set<const Node*> seen;
  std::vector<const Node*> stack;  // iterative: graphs can be a million nodes deep
  for (const Var& v : outputs)
    if (v.defined() && v.grad_fn()) stack.push_back(v.grad_fn().get());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    names.insert(n->name());
    for (const Edge& e : n->next_edges)
      if (e.node) stack.push_back(e.node.get());
  }
  names.erase("AccumulateGrad");  // the leaves' sinks, not differentiable functions
  return {names.begin(), names.end()};
}

namespace detail {
bool list_node_type(const char* name) {
  node_type_registry().insert(name);
  return true;
}

void release_later(std::shared_ptr<void>&& p) {
  // The first call on a thread drains a work list; destructors that run inside it push
  // their own children onto the list instead of recursing.
  thread_local std::vector<std::shared_ptr<void>> pending;
  thread_local bool draining = false;
  if (!p) return;
  if (p.use_count() > 1) {
    p.reset();
    return;
  }
  pending.push_back(std::move(p));
  if (draining) return;
  draining = true;
  while (!pending.empty()) {
    std::shared_ptr<void> last = std::move(pending.back());
    pending.pop_back();
    last.reset();
  }
  draining = false;
}
}  // namespace detail

VarImpl::~VarImpl() {
  detail::release_later(std::move(grad_fn));
  detail::release_later(std::move(grad_accumulator));
}

namespace {
std::atomic<uint64_t> g_sequence{0};
}

Node::Node() : sequence_nr(g_sequence.fetch_add(1, std::memory_order_relaxed)) {}

Node::~Node() {
  for (Edge& e : next_edges) detail::release_later(std::move(e.node));
}

// ---------------------------------------------------------------- SavedVar

SavedVar::SavedVar(const Var& v, bool is_output) : is_output_(is_output), defined_(v.defined()) {
  if (!defined_) return;
  if (is_output) {
    data_ = v.data();
    output_nr_ = v.output_nr();
  } else {
    impl_ = v.impl();
  }
}

SavedVar::~SavedVar() { detail::release_later(std::move(impl_)); }

void SavedVar::release() {
  detail::release_later(std::move(impl_));
  data_ = Tensor();
  released_ = true;
}

Var Node::unpack(const SavedVar& s) { return s.unpack(*this); }

Var SavedVar::unpack(Node& owner) const {
  ODEGAN_CHECK(!released_, owner.name(),
               ": trying to backward through the graph a second time, but its saved tensors were freed "
               "after the first backward; pass retain_graph = true to the first backward/grad call");
  if (!defined_) return Var();
  if (!is_output_) return Var(impl_);
  return make_output(data_, owner.shared_from_this(), output_nr_);
}

// ---------------------------------------------------------------- AccumulateGrad

AccumulateGrad::AccumulateGrad(const std::shared_ptr<VarImpl>& l) : leaf(l) {
  outputs.push_back({l->data.shape(), l->data.dtype(), l->data.device()});
}

std::vector<Var> AccumulateGrad::apply(std::vector<Var>&& grads) {
  auto l = leaf.lock();
  if (!l) return {};
  const Tensor& g = grads[0].data();
  if (accumulate && l->grad.defined()) {
    kernels::binary(kernels::Binary::add, l->grad, g, l->grad);
  } else if (l->grad.defined()) {
    l->grad.copy_(g);
  } else {
    l->grad = g.clone();
  }
  return {};
}

// ---------------------------------------------------------------- edges

bool any_requires_grad(std::initializer_list<const Var*> inputs) {
  for (const Var* v : inputs)
    if (v && v->defined() && v->requires_grad()) return true;
  return false;
}

void set_next_edges(Node& node, std::initializer_list<const Var*> inputs) {
  node.next_edges.reserve(inputs.size());
  for (const Var* v : inputs) node.next_edges.push_back(v && v->defined() ? v->gradient_edge() : Edge{});
}

void set_next_edges(Node& node, const std::vector<Var>& inputs) {
  node.next_edges.reserve(inputs.size());
  for (const Var& v : inputs) node.next_edges.push_back(v.defined() ? v.gradient_edge() : Edge{});
}

}  // namespace odegan::ad
