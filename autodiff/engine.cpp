#include "autodiff/engine.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "autodiff/functions.h"
#include "autodiff/node.h"

namespace odegan::ad {
namespace {

struct NodeState {
  bool visited = false;
  bool needed = false;   // leads to (or is) a target
  bool execute = false;  // apply() runs (it has needed inputs, or accumulates into a leaf)
  int deps = 0;          // executing predecessors still to deliver gradients
  std::vector<bool> needed_inputs;
  std::vector<Var> buffer;
};

struct EdgeHash {
  size_t operator()(const std::pair<Node*, uint32_t>& e) const {
    return std::hash<Node*>()(e.first) * 31 + e.second;
  }
};

class GraphTask {
 public:
  GraphTask(bool create_graph, bool retain_graph, bool stop_at_targets = false)
      : create_graph_(create_graph), retain_graph_(retain_graph), stop_at_targets_(stop_at_targets) {}

  // Targets: gradients arriving at these (node, slot) edges are captured for grad().
  void add_capture(const Edge& e, size_t index) { captures_[{e.node.get(), e.slot}].push_back(index); }
  // backward(): accumulator nodes that write leaf gradients (all reached, or only these).
  void set_leaf_mode(GradWrite write, const std::unordered_set<Node*>* only) {
    leaf_mode_ = true;
    write_ = write;
    only_leaves_ = only;
  }
  // backward(): `ready(i)` once the accumulator indexed i has written its leaf's gradient.
  void set_leaf_ready(std::unordered_map<Node*, size_t> index, std::function<void(size_t)> ready) {
    leaf_index_ = std::move(index);
    leaf_ready_ = std::move(ready);
  }

  void run(const std::vector<Edge>& roots, const std::vector<Var>& root_grads, std::vector<Var>* captured);

 private:
  bool is_target(Node* n) const;
  void discover(const std::vector<Edge>& roots);
  void deliver(Node* n, uint32_t slot, Var g);
  void execute(Node* n, NodeState& st, std::vector<Var>* captured);

  bool create_graph_, retain_graph_;
  bool stop_at_targets_;  // do not look past captured inputs (partial derivatives only)
  bool leaf_mode_ = false;
  GradWrite write_ = GradWrite::accumulate;
  const std::unordered_set<Node*>* only_leaves_ = nullptr;
  std::unordered_map<Node*, size_t> leaf_index_;
  std::function<void(size_t)> leaf_ready_;
  std::unordered_map<std::pair<Node*, uint32_t>, std::vector<size_t>, EdgeHash> captures_;
  std::unordered_set<Node*> capture_nodes_;
  std::unordered_map<Node*, NodeState> state_;
  std::vector<std::shared_ptr<Node>> keep_alive_;  // nodes stay alive while the task runs
};

bool GraphTask::is_target(Node* n) const {
  if (capture_nodes_.count(n)) return true;
  if (leaf_mode_ && dynamic_cast<AccumulateGrad*>(n))
    return only_leaves_ == nullptr || only_leaves_->count(n) > 0;
  return false;
}

// Iterative post-order DFS: a node is needed when it is a target or any input is needed.
void GraphTask::discover(const std::vector<Edge>& roots) {
  for (const auto& [edge, idx] : captures_) capture_nodes_.insert(edge.first);
  struct Frame {
    Node* node;
    size_t next;
  };
  std::vector<Frame> stack;
  // A captured node that we must not look past: needed, but nothing below it runs.
  auto terminal = [&](Node* n) {
    if (!stop_at_targets_ || !capture_nodes_.count(n)) return false;
    NodeState& s = state_[n];
    s.needed = true;
    s.execute = false;
    return true;
  };
  for (const Edge& r : roots) {
    if (!r.valid() || state_[r.node.get()].visited) continue;
    state_[r.node.get()].visited = true;
    keep_alive_.push_back(r.node);
    if (terminal(r.node.get())) continue;
    stack.push_back({r.node.get(), 0});
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next < f.node->next_edges.size()) {
        const Edge& e = f.node->next_edges[f.next++];
        if (!e.valid()) continue;
        NodeState& s = state_[e.node.get()];
        if (!s.visited) {
          s.visited = true;
          keep_alive_.push_back(e.node);
          if (!terminal(e.node.get())) stack.push_back({e.node.get(), 0});
        }
        continue;
      }
      Node* n = f.node;
      stack.pop_back();
      NodeState& st = state_[n];
      bool child_needed = false;
      st.needed_inputs.assign(n->next_edges.size(), false);
      for (size_t i = 0; i < n->next_edges.size(); ++i) {
        const Edge& e = n->next_edges[i];
        if (e.valid() && state_[e.node.get()].needed) {
          st.needed_inputs[i] = true;
          child_needed = true;
        }
      }
      bool target = is_target(n);
      st.needed = target || child_needed;
      st.execute = child_needed || (leaf_mode_ && target);
    }
  }
  // Dependency counts: one per needed input edge of every executing node.
  for (auto& [n, st] : state_) {
    if (!st.execute) continue;
    for (size_t i = 0; i < n->next_edges.size(); ++i)
      if (st.needed_inputs[i]) ++state_[n->next_edges[i].node.get()].deps;
  }
}

void GraphTask::deliver(Node* n, uint32_t slot, Var g) {
  NodeState& st = state_[n];
  if (st.buffer.size() <= slot) st.buffer.resize(std::max<size_t>(slot + 1, n->outputs.size()));
  Var& b = st.buffer[slot];
  if (!g.defined()) return;
  if (!b.defined()) {
    b = std::move(g);
  } else {
    GradModeGuard mode(create_graph_);
    b = add(b, g);
  }
}

void GraphTask::execute(Node* n, NodeState& st, std::vector<Var>* captured) {
  size_t nout = std::max(n->outputs.size(), st.buffer.size());
  st.buffer.resize(nout);
  // Gradients that never arrived are zeros of the output's shape.
  for (size_t k = 0; k < nout; ++k) {
    if (st.buffer[k].defined() || k >= n->outputs.size()) continue;
    const OutputMeta& m = n->outputs[k];
    st.buffer[k] = Var(Tensor::zeros(m.shape, m.dtype, m.device));
  }
  if (captured) {
    for (uint32_t k = 0; k < nout; ++k) {
      auto it = captures_.find({n, k});
      if (it == captures_.end()) continue;
      for (size_t idx : it->second) (*captured)[idx] = st.buffer[k];
    }
  }
  if (!st.execute) return;

  if (auto* acc = dynamic_cast<AccumulateGrad*>(n)) {
    if (leaf_mode_) {
      acc->accumulate = write_ == GradWrite::accumulate;
      acc->apply(std::move(st.buffer));
      if (leaf_ready_) {
        auto it = leaf_index_.find(n);
        if (it != leaf_index_.end()) leaf_ready_(it->second);
      }
    }
    return;
  }
  std::vector<Var> grads;
  {
    GradModeGuard mode(create_graph_);
    n->needed_ = st.needed_inputs;  // set just before apply: nested tasks may share nodes
    grads = n->apply(std::move(st.buffer));
  }
  st.buffer.clear();
  if (!retain_graph_) n->release_saved();
  ODEGAN_CHECK(grads.size() == n->next_edges.size(), n->name(), " returned ", grads.size(), " gradients for ",
               n->next_edges.size(), " inputs");
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!st.needed_inputs[i]) continue;
    const Edge& e = n->next_edges[i];
    if (grads[i].defined() && e.slot < e.node->outputs.size()) {
      const OutputMeta& m = e.node->outputs[e.slot];
      ODEGAN_CHECK(grads[i].shape() == m.shape, n->name(), ": gradient of input ", i, " has shape ",
                   grads[i].shape().str(), " but the input has shape ", m.shape.str());
    }
    deliver(e.node.get(), e.slot, std::move(grads[i]));
  }
}

void GraphTask::run(const std::vector<Edge>& roots, const std::vector<Var>& root_grads, std::vector<Var>* captured) {
  discover(roots);
  for (size_t j = 0; j < roots.size(); ++j)
    if (roots[j].valid() && state_[roots[j].node.get()].needed) deliver(roots[j].node.get(), roots[j].slot, root_grads[j]);

  auto later_first = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
  for (auto& [n, st] : state_)
    if (st.needed && st.deps == 0) ready.push(n);
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    NodeState& st = state_[n];
    execute(n, st, captured);
    if (!st.execute) continue;
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      if (!st.needed_inputs[i]) continue;
      Node* next = n->next_edges[i].node.get();
      if (--state_[next].deps == 0) ready.push(next);
    }
  }
}

std::vector<Var> default_grad_outputs(const std::vector<Var>& outputs, const std::vector<Var>& given) {
  if (!given.empty()) {
    ODEGAN_CHECK(given.size() == outputs.size(), "grad: ", given.size(), " grad_outputs for ", outputs.size(),
                 " outputs");
    for (size_t j = 0; j < given.size(); ++j) {
      ODEGAN_CHECK(given[j].defined() && given[j].shape() == outputs[j].shape(), "grad: grad_outputs[", j,
                   "] has shape ", given[j].defined() ? given[j].shape().str() : "(undefined)",
                   " but the output has shape ", outputs[j].shape().str());
    }
    return given;
  }
  std::vector<Var> ones;
  for (const Var& o : outputs) ones.emplace_back(Tensor::ones(o.shape(), o.dtype(), o.device()));
  return ones;
}

std::vector<Edge> root_edges(const std::vector<Var>& outputs, const char* fn) {
  std::vector<Edge> roots;
  for (size_t j = 0; j < outputs.size(); ++j) {
    ODEGAN_CHECK(outputs[j].defined(), fn, ": output ", j, " is undefined");
    ODEGAN_CHECK(outputs[j].requires_grad(), fn, ": output ", j,
                 " does not require grad (it was computed from nothing that requires grad, or under a "
                 "no-grad guard)");
    roots.push_back(outputs[j].gradient_edge());
  }
  return roots;
}

}  // namespace

namespace {
std::vector<Var> run_grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                          const std::vector<Var>& grad_outputs, const GradOptions& options, bool stop_at_inputs) {
  std::vector<Edge> roots = root_edges(outputs, "grad");
  std::vector<Var> gouts = default_grad_outputs(outputs, grad_outputs);
  GraphTask task(options.create_graph, options.retain_graph.value_or(options.create_graph), stop_at_inputs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    ODEGAN_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "grad: input ", i,
                 " does not require grad");
    task.add_capture(inputs[i].gradient_edge(), i);
  }
  std::vector<Var> result(inputs.size());
  task.run(roots, gouts, &result);
  for (size_t i = 0; i < inputs.size(); ++i) {
    ODEGAN_CHECK(result[i].defined() || options.allow_unused, "grad: input ", i,
                 inputs[i].name().empty() ? "" : " ('" + inputs[i].name() + "')",
                 " is not used to compute the outputs (pass allow_unused to get an undefined gradient)");
  }
  return result;
}
}  // namespace

std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs, const GradOptions& options) {
  return run_grad(outputs, inputs, grad_outputs, options, false);
}

std::vector<Var> partial_vjp(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                             const std::vector<Var>& grad_outputs, bool create_graph) {
  GradOptions o;
  o.create_graph = create_graph;
  // With create_graph the results may point back into the decomposition's nodes (saved
  // outputs unpack to them), so their saved tensors must stay.
  o.retain_graph = create_graph;
  o.allow_unused = true;
  return run_grad(outputs, inputs, grad_outputs, o, true);
}

void backward(const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs,
              const BackwardOptions& options) {
  std::vector<Edge> roots = root_edges(outputs, "backward");
  std::vector<Var> gouts = default_grad_outputs(outputs, grad_outputs);
  GraphTask task(options.create_graph, options.retain_graph || options.create_graph);
  std::unordered_set<Node*> only;
  std::unordered_map<Node*, size_t> index;
  std::vector<Edge> keep;  // accumulators must outlive the task
  for (size_t i = 0; i < options.inputs.size(); ++i) {
    const Var& v = options.inputs[i];
    ODEGAN_CHECK(v.defined() && v.is_leaf() && v.requires_grad(),
                 "backward: inputs must be leaves that require grad");
    keep.push_back(v.gradient_edge());
    only.insert(keep.back().node.get());
    index.emplace(keep.back().node.get(), i);  // a leaf listed twice is announced once
  }
  task.set_leaf_mode(options.write, options.inputs.empty() ? nullptr : &only);
  if (options.on_input_ready) {
    ODEGAN_CHECK(!options.inputs.empty(), "backward: on_input_ready needs the inputs it indexes");
    task.set_leaf_ready(std::move(index), options.on_input_ready);
  }
  task.run(roots, gouts, nullptr);
}

}  // namespace odegan::ad
