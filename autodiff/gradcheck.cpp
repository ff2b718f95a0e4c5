#include "autodiff/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "core/rng.h"

namespace odegan::ad {
namespace {

double dot(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

Tensor random_like(const Shape& s, Generator& gen) {
  Tensor t = Tensor::empty(s, DType::f64);
  fill_normal(t, gen);
  return t;
}

}  // namespace

GradcheckResult gradcheck_leaves(const std::function<Var()>& f, const std::vector<Var>& vars,
                                 const GradcheckOptions& opt) {
  for (size_t i = 0; i < vars.size(); ++i)
    ODEGAN_CHECK(vars[i].data().dtype() == DType::f64 && vars[i].data().device().is_cpu() && vars[i].requires_grad(),
                 "gradcheck: leaf ", i, " must be a float64 CPU tensor that requires grad, got ",
                 describe(vars[i].data()));
  Var out = f();
  Generator gen(opt.seed);
  Tensor v = random_like(out.shape(), gen);
  std::vector<Var> analytic;
  {
    GradOptions go;
    go.allow_unused = true;
    analytic = out.requires_grad() ? grad({out}, vars, {Var(v)}, go) : std::vector<Var>(vars.size());
  }

  GradcheckResult res;
  // f runs with grad mode on even for the numeric side: gradgradcheck's f takes gradients.
  for (size_t i = 0; i < vars.size(); ++i) {
    double* x = vars[i].data().data<double>();
    std::vector<double> a = analytic[i].defined() ? analytic[i].data().to_vector<double>()
                                                  : std::vector<double>(static_cast<size_t>(vars[i].numel()), 0.0);
    for (int64_t j = 0; j < vars[i].numel(); ++j) {
      const double x0 = x[j];
      if (opt.kink > 0 && std::fabs(x0) < opt.kink) continue;
      x[j] = x0 + opt.eps;
      double plus = dot(f().data(), v);
      x[j] = x0 - opt.eps;
      double minus = dot(f().data(), v);
      x[j] = x0;
      double numeric = (plus - minus) / (2 * opt.eps);
      double err = std::fabs(a[j] - numeric);
      res.max_abs_error = std::max(res.max_abs_error, err);
      ++res.checked;
      if (!(err <= opt.atol + opt.rtol * std::fabs(numeric)) && res.ok) {
        res.ok = false;
        std::ostringstream os;
        os.precision(12);
        os << "input " << i << " " << vars[i].shape().str()
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
  Shape out_shape = f().shape();
  Generator gen(opt.seed + 1000);
  // F(x, v) = <u, grad(<v, f(x)>, x)> with create_graph, for fixed random directions u;
  // gradcheck then checks its gradient w.r.t. x and v, i.e. second derivatives.
  Var v(random_like(out_shape, gen), true);
  std::vector<Tensor> u;
  for (const Var& l : leaves) u.push_back(random_like(l.shape(), gen));
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
    if (!total.defined()) total = Var(Tensor::zeros({}, DType::f64));
    return total;
  };
  std::vector<Var> all = leaves;
  all.push_back(v);
  return gradcheck_leaves(first_grad, all, opt);
}

GradcheckResult gradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  for (size_t i = 0; i < inputs.size(); ++i)
    ODEGAN_CHECK(inputs[i].dtype() == DType::f64 && inputs[i].device().is_cpu(), "gradcheck: input ", i,
                 " must be a float64 CPU tensor, got ", describe(inputs[i]));
  // Private copies: the finite differences perturb them in place.
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.clone(), true);
  return gradcheck_leaves([&] { return f(vars); }, vars, opt);
}

GradcheckResult gradgradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& opt) {
  for (size_t i = 0; i < inputs.size(); ++i)
    ODEGAN_CHECK(inputs[i].dtype() == DType::f64 && inputs[i].device().is_cpu(), "gradgradcheck: input ", i,
                 " must be a float64 CPU tensor, got ", describe(inputs[i]));
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.clone(), true);
  return gradgradcheck_leaves([&] { return f(vars); }, vars, opt);
}

}  // namespace odegan::ad
