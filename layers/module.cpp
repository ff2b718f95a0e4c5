#include "layers/module.h"

#include <iomanip>
#include <sstream>
#include <unordered_map>

#include "autodiff/node.h"
#include "core/safetensors.h"

namespace odegan::nn {

Init parse_init(const std::string& name) {
  if (name == "reference" || name == "truncated_normal") return Init::reference;
  if (name == "dcgan" || name == "normal") return Init::dcgan;
  if (name == "kaiming" || name == "kaiming_uniform") return Init::kaiming_uniform;
  if (name == "xavier" || name == "xavier_uniform") return Init::xavier_uniform;
  ODEGAN_FAIL("unknown initialiser '", name, "': expected reference, dcgan, kaiming or xavier");
}

// ---------------------------------------------------------------- calling, with summaries

namespace {
struct SummaryRow {
  const Module* module;
  std::string type;
  Shape out;
  int64_t params = 0;
  int depth = 0;
};
struct SummaryRecorder {
  std::vector<SummaryRow> rows;
  int depth = 0;
};
thread_local SummaryRecorder* g_recorder = nullptr;
}  // namespace

Var Module::forward(const Var&) {
  ODEGAN_FAIL(type_name(), " has no single-input forward(); call it with its own arguments");
}

Var Module::operator()(const Var& x) {
  if (!g_recorder) return forward(x);
  size_t row = g_recorder->rows.size();
  int64_t own = 0;
  for (const auto& [n, p] : params_) own += p.numel();
  g_recorder->rows.push_back({this, type_name(), Shape{}, own, g_recorder->depth});
  ++g_recorder->depth;
  Var y = forward(x);
  --g_recorder->depth;
  g_recorder->rows[row].out = y.shape();
  return y;
}

std::string summary_of(Module& root, const std::function<void()>& run) {
  // Paths by identity, from a traversal of the tree.
  std::unordered_map<const Module*, std::string> paths;
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& p) {
    paths[&m] = p.empty() ? "(root)" : p;
    for (const auto& [name, child] : m.named_children()) walk(*child, p.empty() ? name : p + "." + name);
  };
  walk(root, "");
  SummaryRecorder rec;
  g_recorder = &rec;
  try {
    ad::NoGradGuard no_grad;
    run();
  } catch (...) {
    g_recorder = nullptr;
    throw;
  }
  g_recorder = nullptr;
  std::ostringstream os;
  os << std::left << std::setw(40) << "layer" << std::setw(22) << "type" << std::setw(24) << "output shape"
     << std::right << std::setw(12) << "params" << "\n"
     << std::string(98, '-') << "\n";
  for (const SummaryRow& r : rec.rows) {
    auto it = paths.find(r.module);
    std::string path = std::string(2 * r.depth, ' ') + (it == paths.end() ? "?" : it->second);
    os << std::left << std::setw(40) << path << std::setw(22) << r.type << std::setw(24) << r.out.str() << std::right
       << std::setw(12) << r.params << "\n";
  }
  os << std::string(98, '-') << "\n" << "total parameters: " << root.num_parameters() << "\n";
  return os.str();
}

std::string summary(Module& m, const Shape& input_shape) {
  return summary_of(m, [&] { m(Var(Tensor::zeros(input_shape, m.dtype(), m.device()))); });
}

// ---------------------------------------------------------------- registration and traversal

Var& Module::register_parameter(const std::string& name, Tensor value) {
  for (const auto& p : params_) ODEGAN_CHECK(p.first != name, type_name(), ": parameter '", name, "' registered twice");
  params_.emplace_back(name, Var(std::move(value), true));
  params_.back().second.set_name(name);
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  for (const auto& b : buffers_) ODEGAN_CHECK(b.first != name, type_name(), ": buffer '", name, "' registered twice");
  buffers_.emplace_back(name, std::move(value));
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  ODEGAN_CHECK(m != nullptr, type_name(), ": child '", name, "' is null");
  for (const auto& c : children_) ODEGAN_CHECK(c.first != name, type_name(), ": child '", name, "' registered twice");
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Var>>& out) const {
  for (const auto& [n, p] : params_) out.emplace_back(prefix + n, p);
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", out);
}

void Module::collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) {
  for (auto& [n, b] : buffers_) out.emplace_back(prefix + n, &b);
  for (auto& [n, c] : children_) c->collect_buffers(prefix + n + ".", out);
}

std::vector<std::pair<std::string, Var>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  collect("", out);
  return out;
}

std::vector<Var> Module::parameters() const {
  std::vector<Var> out;
  for (auto& [n, p] : named_parameters()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::named_buffers() {
  std::vector<std::pair<std::string, Tensor*>> out;
  collect_buffers("", out);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Var& p : parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  on_train(on);
  for (auto& [n, c] : children_) c->train(on);
}

void Module::reset_all(Generator& gen, Init init) {
  reset_parameters(gen, init);
  for (auto& [n, c] : children_) c->reset_all(gen, init);
}

// ---------------------------------------------------------------- flat buffers

bool Module::contiguous_run(const std::vector<Var>& params, Tensor& base, bool grads) const {
  if (params.empty()) return false;
  const Tensor& first = grads ? params[0].grad() : params[0].data();
  if (!first.defined()) return false;
  size_t end = first.offset_bytes();
  int64_t total = 0;
  for (const Var& p : params) {
    const Tensor& t = grads ? p.grad() : p.data();
    if (!t.defined() || t.storage() != first.storage() || t.offset_bytes() != end || t.dtype() != first.dtype())
      return false;
    end += t.nbytes();
    total += t.numel();
  }
  base = Tensor::from_storage(first.storage(), first.offset_bytes(), Shape{total}, first.dtype());
  return true;
}

void Module::pack(Device device, DType dtype) {
  std::vector<Var> params = parameters();
  int64_t total = 0;
  for (const Var& p : params) total += p.numel();
  Tensor flat = Tensor::empty({total}, dtype, device);
  Tensor flat_grad = Tensor::zeros({total}, dtype, device);
  int64_t at = 0;
  for (Var& p : params) {
    Tensor view = flat.view(at, p.shape());
    view.copy_(p.data().to(dtype).to(device));
    const Tensor old = p.grad();  // gradients accumulated before packing move along
    p.move_to(view);
    Tensor gview = flat_grad.view(at, p.shape());
    if (old.defined() && old.numel() == p.numel()) gview.copy_(old.to(dtype).to(device));
    p.set_grad(gview);
    at += p.numel();
  }
  flat_ = flat;
  flat_grad_ = flat_grad;
}

Tensor Module::flat_parameters() {
  std::vector<Var> params = parameters();
  if (params.empty()) return Tensor::empty({0}, dtype(), device());
  Tensor base;
  if (contiguous_run(params, base, false)) return base;
  pack(device(), dtype());
  return flat_;
}

Tensor Module::flat_gradients() {
  Tensor flat = flat_parameters();
  std::vector<Var> params = parameters();
  if (params.empty()) return flat;
  Tensor base;
  if (contiguous_run(params, base, true)) return base;
  Tensor g = Tensor::zeros({flat.numel()}, flat.dtype(), flat.device());
  int64_t at = 0;
  for (Var& p : params) {
    Tensor view = g.view(at, p.shape());
    // Gradients accumulated before the buffer existed move into it.
    const Tensor old = p.grad();
    if (old.defined() && old.numel() == p.numel()) view.copy_(old.to(flat.dtype()).to(flat.device()));
    p.set_grad(view);
    at += p.numel();
  }
  flat_grad_ = g;
  return g;
}

void Module::zero_grad() { flat_gradients().zero_(); }

Device Module::device() const {
  std::vector<Var> params = parameters();
  return params.empty() ? Device::cpu() : params[0].device();
}

DType Module::dtype() const {
  std::vector<Var> params = parameters();
  return params.empty() ? DType::f32 : params[0].dtype();
}

void Module::to(Device device) {
  pack(device, dtype());
  for (auto& [n, b] : named_buffers()) *b = b->to(device);
}

void Module::to(DType dt) {
  pack(device(), dt);
  for (auto& [n, b] : named_buffers())
    if (is_floating(b->dtype())) *b = b->to(dt);
}

// ---------------------------------------------------------------- state

std::map<std::string, Tensor> Module::state_dict() {
  std::map<std::string, Tensor> out;
  for (auto& [n, p] : named_parameters()) out[n] = p.data();
  for (auto& [n, b] : named_buffers()) out[n] = *b;
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> mine = state_dict();
  std::vector<std::string> problems;
  for (const auto& [name, t] : mine) {
    auto it = state.find(name);
    if (it == state.end()) {
      problems.push_back("missing '" + name + "' " + describe(t));
      continue;
    }
    if (it->second.shape() != t.shape() || it->second.dtype() != t.dtype())
      problems.push_back("'" + name + "': expected " + t.shape().str() + " " + dtype_name(t.dtype()) + ", found " +
                         it->second.shape().str() + " " + dtype_name(it->second.dtype()));
  }
  for (const auto& [name, t] : state)
    if (!mine.count(name)) problems.push_back("unexpected '" + name + "' " + describe(t));
  if (!problems.empty()) {
    std::string msg = type_name() + ": state does not match the model (" + std::to_string(problems.size()) +
                      " problem(s)):";
    for (const std::string& p : problems) msg += "\n  " + p;
    ODEGAN_FAIL(msg);
  }
  for (auto& [name, t] : mine) t.copy_(state.at(name).to(t.device()));
}

void Module::save(const std::string& path) { save_safetensors(path, state_dict(), {{"format", "odegan"}}); }

void Module::load(const std::string& path) {
  try {
    load_state_dict(legacy_names(load_safetensors(path)));
  } catch (const Error& e) {
    ODEGAN_FAIL("loading '", path, "': ", e.what());
  }
}

std::map<std::string, Tensor> legacy_names(std::map<std::string, Tensor> state) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : state) {
    const size_t dot = name.rfind('.');
    const std::string last = dot == std::string::npos ? name : name.substr(dot + 1);
    const std::string stem = dot == std::string::npos ? "" : name.substr(0, dot + 1);
    out[last == "gamma" ? stem + "weight" : last == "beta" ? stem + "bias" : name] = std::move(t);
  }
  return out;
}

}  // namespace odegan::nn
