// Module: named parameters, named buffers and named children, a train/eval switch, and
// state save/load. All parameters of a module tree live as views into ONE flat buffer
// (and their gradients into a second buffer of the same layout), so to a solver a model
// is a single vector.
#pragma once
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/var.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace odegan::nn {

using ad::Var;

// How a layer's parameters are initialised (reset_parameters).
enum class Init {
  reference,        // truncated normal (+-2 std), std 1/sqrt(fan_in), zero bias: Haiku/Sonnet default
  dcgan,            // normal(0, 0.02) weights, zero bias
  kaiming_uniform,  // U(-b, b), b = sqrt(6 / ((1 + a^2) fan_in)) with a = sqrt(5): PyTorch's default
  xavier_uniform,   // U(-b, b), b = sqrt(6 / (fan_in + fan_out)), zero bias
};
Init parse_init(const std::string& name);  // "reference", "dcgan", "kaiming", "xavier"

class Module : public std::enable_shared_from_this<Module> {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // "Linear", "Conv2d", ... (shown in summaries).
  virtual std::string type_name() const = 0;
  // The layer's computation for one input. Modules with other signatures (labels, several
  // inputs) add their own call operators and may leave this throwing.
  virtual Var forward(const Var& x);
  // Call through this (not forward) so summaries can record output shapes.
  Var operator()(const Var& x);

  // Re-initialises this module's own parameters (children are handled by reset_all).
  virtual void reset_parameters(Generator& gen, Init init) {}
  // Initialises the whole tree in its stable order.
  void reset_all(Generator& gen, Init init);

  // ---- the tree
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // "conv1.weight", ... in registration order, depth first: the stable order of the
  // flat buffer and of checkpoints.
  std::vector<std::pair<std::string, Var>> named_parameters() const;
  std::vector<Var> parameters() const;
  std::vector<std::pair<std::string, Tensor*>> named_buffers();
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  int64_t num_parameters() const;

  // ---- flat buffers
  // One tensor holding every parameter of the tree, in named_parameters() order. The
  // first call (or one after parameters were added or moved) packs the parameters into a
  // new buffer and makes each a view into it; later calls return the same buffer. When
  // this module's parameters already form one contiguous run in a larger buffer (a parent
  // was packed), a view of that run is returned.
  Tensor flat_parameters();
  // The gradient buffer of the same layout; every parameter's .grad is a view into it.
  Tensor flat_gradients();
  void zero_grad();

  // Moves parameters (as one flat buffer) and buffers to a device / converts dtype.
  void to(Device device);
  void to(DType dtype);
  Device device() const;
  DType dtype() const;

  // ---- state: parameters and buffers by name
  std::map<std::string, Tensor> state_dict();
  // Loads every tensor of `state` (copying into the existing storage, any device). Checks
  // every name, shape and dtype first and throws one error listing all mismatches.
  void load_state_dict(const std::map<std::string, Tensor>& state);
  void save(const std::string& path);  // safetensors, written atomically
  // Loads a file written by save(), or one from before batch norm took PyTorch's names
  // (see legacy_names).
  void load(const std::string& path);

 protected:
  // Registration, called from constructors. Returns the stored handle.
  Var& register_parameter(const std::string& name, Tensor value);
  Tensor& register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  void add_child(const std::string& name, std::shared_ptr<Module> m);

  // Called when train/eval flips (e.g. spectral norm caches nothing, BN switches stats).
  virtual void on_train(bool on) {}

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Var>>& out) const;
  void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out);
  void pack(Device device, DType dtype);
  bool contiguous_run(const std::vector<Var>& params, Tensor& base_out, bool grads) const;

  // deques: references handed out by register_* stay valid as more are added.
  std::deque<std::pair<std::string, Var>> params_;
  std::deque<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  Tensor flat_, flat_grad_;
};

// A printable table: one row per module call (path, type, output shape, parameters),
// recorded by running the module once on zeros of `input_shape` (no graph recorded).
std::string summary(Module& m, const Shape& input_shape);
// The rows for any forward: records each Module::operator() call made by `run`.
std::string summary_of(Module& root, const std::function<void()>& run);

// Files and checkpoints written before batch norm took PyTorch's parameter names called
// them gamma and beta: returns `state` with those keys ("x.gamma", "x.beta") renamed to
// "x.weight" and "x.bias". No current module registers a gamma or beta.
std::map<std::string, Tensor> legacy_names(std::map<std::string, Tensor> state);

}  // namespace odegan::nn
