#include "autodiff/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "autodiff/node.h"
#include "core/rng.h"

namespace odegan::ad {
namespace {

double dot(const Tensor& a, const std::vector<double>& y) {
  std::vector<double> x = a.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

// Drawn on the CPU and then moved, so that every device sees the same directions.
Tensor random_on(const Shape& s, Generator& gen, Device device) {
  Tensor t = Tensor::empty(s, DType::f64);
  fill_normal(t, gen);
  return t.to(device);
}

void check_leaves(const std::vector<Var>& vars, const char* who) {
  for (size_t i = 0; i < vars.size(); ++i)
    ODEGAN_CHECK(vars[i].data().dtype() == DType::f64 && vars[i].requires_grad(), who, ": leaf ", i,
                 " must be a float64 tensor that requires grad, got ", describe(vars[i].data()));
}

void check_inputs(const std::vector<Tensor>& inputs, const char* who) {
  for (size_t i = 0; i < inputs.size(); ++i)
    ODEGAN_CHECK(inputs[i].dtype() == DType::f64, who, ": input ", i, " must be a float64 tensor, got ",
                 describe(inputs[i]));
}

// Writes one element of a leaf: directly on the CPU, by a one-element fill elsewhere.
void set_element(const Tensor& t, int64_t j, double value) {
  if (t.device().is_cpu())
    t.data<double>()[j] = value;
  else
    t.view(j, {1}).fill_(value);
}

}  // namespace

GradcheckResult gradcheck_leaves(const std::function<Var()>& f, const std::vector<Var>& vars,
                                 const GradcheckOptions& opt) {
  check_leaves(vars, "gradcheck");
  Var out = f();
  GradcheckResult res;
  res.functions = graph_node_names({out});
  if (opt.functions_only) return res;
  Generator gen(opt.seed);
  Tensor v = random_on(out.shape(), gen, out.device());
  const std::vector<double> v_host = v.to_vector<double>();
  std::vector<Var> analytic;
  {
    GradOptions go;
    go.allow_unused = true;
    analytic = out.requires_grad() ? grad({out}, vars, {Var(v)}, go) : std::vector<Var>(vars.size());
  }

  // f runs with grad mode on even for the numeric side: gradgradcheck's f takes gradients.
  for (size_t i = 0; i < vars.size(); ++i) {
    const Tensor& x = vars[i].data();
    const std::vector<double> x_host = x.to_vector<double>();
    std::vector<double> a = analytic[i].defined() ? analytic[i].data().to_vector<double>()
                                                  : std::vector<double>(static_cast<size_t>(vars[i].numel()), 0.0);
    for (int64_t j = 0; j < vars[i].numel(); ++j) {
      const double x0 = x_host[static_cast<size_t>(j)];
      if (opt.kink > 0 && std::fabs(x0) < opt.kink) continue;
      set_element(x, j, x0 + opt.eps);
      double plus = dot(f().data(), v_host);
      set_element(x, j, x0 - opt.eps);
      double minus = dot(f().data(), v_host);
      set_element(x, j, x0);
      double numeric = (plus - minus) / (2 * opt.eps);
      double err = std::fabs(a[j] - numeric);
      res.max_abs_error = std::max(res.max_abs_error, err);
      ++res.checked;
      if (!(err <= opt.atol + opt.rtol * std::fabs(numeric)) && res.ok) {
        res.ok = false;
        std::ostringstream os;
        os.precision(12);
        os << "input " << i << " " << vars[i].shape().str() << " on " << x.device().str()
           << (vars[i].name().empty() ? "" : " ('" + vars[i].name() + "')") << " element " << j << " (x = " << x0
           << "): analytic " << a[j] << " vs numeric " << numeric << " (|diff| " << err << ")";
        res.message = os.str();
      }
    }
  }
  return res;
}

GradcheckResult gradgradcheck_leaves(const std::function<Var()>& f, const std::vector<Var>& leaves,
                                     const GradcheckOptions& opt) {
  check_leaves(leaves, "gradgradcheck");
  Var first = f();
  Generator gen(opt.seed + 1000);
  // F(x, v) = <u, grad(<v, f(x)>, x)> with create_graph, for fixed random directions u;
  // gradcheck then checks its gradient w.r.t. x and v, i.e. second derivatives.
  Var v(random_on(first.shape(), gen, first.device()), true);
  std::vector<Tensor> u;
  for (const Var& l : leaves) u.push_back(random_on(l.shape(), gen, l.device()));
  auto first_grad = [&]() {
    Var out = f();
    GradOptions go;
    go.create_graph = true;
    go.allow_unused = true;
    std::vector<Var> gs = out.requires_grad() ? grad({out}, leaves, {v}, go) : std::vector<Var>(leaves.size());
    Var total;
    for (size_t i = 0; i < gs.size(); ++i) {
      if (!gs[i].defined()) continue;
      Var term = sum(mul(gs[i], Var(u[i])));
      total = total.defined() ? add(total, term) : term;
    }
    if (!total.defined()) total = Var(Tensor::zeros({}, DType::f64, first.device()));
    return total;
  };
  std::vector<Var> all = leaves;
  all.push_back(v);
  return gradcheck_leaves(first_grad, all, opt);
}

GradcheckResult gradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  check_inputs(inputs, "gradcheck");
  // Private copies: the finite differences perturb them in place.
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.clone(), true);
  return gradcheck_leaves([&] { return f(vars); }, vars, opt);
}

GradcheckResult gradgradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& opt) {
  check_inputs(inputs, "gradgradcheck");
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.clone(), true);
  return gradgradcheck_leaves([&] { return f(vars); }, vars, opt);
}

// ---------------------------------------------------------------- across devices

Derivatives derivatives(const std::function<Var()>& f, const std::vector<Var>& leaves, int order, uint64_t seed) {
  check_leaves(leaves, "derivatives");
  Derivatives d;
  Var out = f();
  d.value = out.data().to(Device::cpu()).to(DType::f64);
  if (order < 1) return d;
  Generator gen(seed);
  Var v(random_on(out.shape(), gen, out.device()), order >= 2);
  GradOptions go;
  go.allow_unused = true;
  go.create_graph = order >= 2;
  std::vector<Var> gs = out.requires_grad() ? grad({out}, leaves, {v}, go) : std::vector<Var>(leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i)
    d.first.push_back(gs[i].defined() ? gs[i].data().to(Device::cpu()) : Tensor::zeros(leaves[i].shape(), DType::f64));
  if (order < 2) return d;
  Var total;
  for (size_t i = 0; i < gs.size(); ++i) {
    Tensor u = random_on(leaves[i].shape(), gen, leaves[i].device());
    if (!gs[i].defined() || !gs[i].requires_grad()) continue;
    Var term = sum(mul(gs[i], Var(u)));
    total = total.defined() ? add(total, term) : term;
  }
  std::vector<Var> all = leaves;
  all.push_back(v);
  std::vector<Var> ggs(all.size());
  if (total.defined()) {
    GradOptions g2;
    g2.allow_unused = true;
    ggs = grad({total}, all, {}, g2);
  }
  for (size_t i = 0; i < all.size(); ++i)
    d.second.push_back(ggs[i].defined() ? ggs[i].data().to(Device::cpu()) : Tensor::zeros(all[i].shape(), DType::f64));
  return d;
}

GradcheckResult compare(const Derivatives& a, const Derivatives& b, const CompareOptions& opt) {
  GradcheckResult res;
  auto check = [&](const Tensor& x, const Tensor& y, const std::string& what) {
    if (!res.ok) return;
    if (x.shape() != y.shape() || x.dtype() != y.dtype()) {
      res.ok = false;
      res.message = what + ": " + describe(x) + " vs " + describe(y);
      return;
    }
    std::vector<double> p = x.to_vector<double>(), q = y.to_vector<double>();
    double scale = 1;
    for (double e : q) scale = std::max(scale, std::fabs(e));
    for (size_t j = 0; j < p.size(); ++j) {
      const double err = std::fabs(p[j] - q[j]);
      res.max_abs_error = std::max(res.max_abs_error, err);
      ++res.checked;
      if (!(err <= opt.atol * scale + opt.rtol * std::fabs(q[j]))) {
        res.ok = false;
        std::ostringstream os;
        os.precision(17);
        os << what << " " << x.shape().str() << " element " << j << ": " << p[j] << " vs reference " << q[j]
           << " (|diff| " << err << ", tensor scale " << scale << ")";
        res.message = os.str();
        return;
      }
    }
  };
  check(a.value, b.value, "value");
  auto list = [&](const std::vector<Tensor>& x, const std::vector<Tensor>& y, const std::string& what) {
    if (x.size() != y.size()) {
      res.ok = false;
      res.message = what + ": " + std::to_string(x.size()) + " vs " + std::to_string(y.size()) + " tensors";
      return;
    }
    for (size_t i = 0; i < x.size(); ++i) check(x[i], y[i], what + " of leaf " + std::to_string(i));
  };
  list(a.first, b.first, "first derivative");
  list(a.second, b.second, "second derivative");
  return res;
}

GradcheckResult compare_devices(const DifferentiableFn& f, const std::vector<Tensor>& inputs, Device device,
                                const CompareOptions& opt) {
  check_inputs(inputs, "compare_devices");
  auto on = [&](Device dev) {
    std::vector<Var> vars;
    for (const Tensor& t : inputs) vars.emplace_back(t.to(dev).clone(), true);
    return derivatives([&] { return f(vars); }, vars, opt.order, opt.seed);
  };
  GradcheckResult r = compare(on(device), on(Device::cpu()), opt);
  if (!r.ok) r.message = device.str() + " vs cpu: " + r.message;
  return r;
}

}  // namespace odegan::ad
