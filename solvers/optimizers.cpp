#include "solvers/optimizers.h"

#include "kernels/elementwise.h"

namespace odegan::solvers {

void Sgd::step(Tensor& params, const Tensor& grads) { kernels::axpby(-lr_, grads, 1.0, params); }

void Adam::ensure(const Tensor& like) {
  if (m_.defined() && m_.numel() == like.numel() && m_.device() == like.device() && m_.dtype() == like.dtype()) return;
  ODEGAN_CHECK(!m_.defined() || t_ == 0, "Adam: parameter buffer changed size/device after ", t_,
               " steps (was ", describe(m_), ", now ", describe(like), ")");
  m_ = Tensor::zeros({like.numel()}, like.dtype(), like.device());
  v_ = Tensor::zeros({like.numel()}, like.dtype(), like.device());
}

void Adam::step(Tensor& params, const Tensor& grads) {
  ensure(grads);
  Tensor none;
  Tensor p = params.reshape({params.numel()});
  kernels::adam_update(p, grads.reshape({grads.numel()}), m_, v_, none, opt_.lr,
                       {opt_.beta1, opt_.beta2, opt_.eps, ++t_});
}

void Adam::direction(const Tensor& grads, Tensor& dir) {
  ensure(grads);
  Tensor none;
  Tensor d = dir.reshape({dir.numel()});
  kernels::adam_update(none, grads.reshape({grads.numel()}), m_, v_, d, opt_.lr,
                       {opt_.beta1, opt_.beta2, opt_.eps, ++t_});
}

std::map<std::string, Tensor> Adam::state() const {
  std::map<std::string, Tensor> s;
  if (m_.defined()) s["m"] = m_, s["v"] = v_;
  return s;
}

void Adam::load_state(const std::map<std::string, Tensor>& state, int64_t steps) {
  t_ = steps;
  if (state.empty()) {
    m_ = v_ = Tensor();
    ODEGAN_CHECK(steps == 0, "Adam::load_state: ", steps, " steps but no moments");
    return;
  }
  ODEGAN_CHECK(state.count("m") && state.count("v"), "Adam::load_state: state needs 'm' and 'v'");
  m_ = state.at("m").clone();
  v_ = state.at("v").clone();
}

}  // namespace odegan::solvers
