#include "layers/spectral_norm.h"

#include "kernels/elementwise.h"
#include "kernels/matmul.h"
#include "kernels/reduce.h"

namespace odegan::nn {

using namespace odegan::ad;

namespace {
// x /= (||x|| + eps), the norm kept on x's device (reading it on the host would be a sync
// per call: two per layer per training forward).
void normalize_(Tensor& x, double eps) {
  Tensor n = kernels::sum_squares(x);
  kernels::unary(kernels::Unary::sqrt, n, n);
  kernels::unary(kernels::Unary::affine, n, n, 1.0, eps);
  kernels::binary(kernels::Binary::div, x, n, x);
}
}  // namespace

SpectralNorm::SpectralNorm(std::shared_ptr<Weighted> l, double eps_) : layer(std::move(l)), eps(eps_) {
  ODEGAN_CHECK(layer != nullptr, "SpectralNorm: null layer");
  ODEGAN_CHECK(layer->output_axis() == 0, "SpectralNorm: ", layer->type_name(),
               " keeps its outputs on weight axis ", layer->output_axis(), "; only axis 0 is supported");
  register_module("layer", layer);
  const Tensor& w = layer->weight().data();
  const int64_t rows = w.shape()[0], cols = w.numel() / rows;
  u = &register_buffer("u", Tensor::ones({rows, 1}, w.dtype()));
  v = &register_buffer("v", Tensor::ones({cols, 1}, w.dtype()));
  normalize_(*u, eps);
  normalize_(*v, eps);
  layer->set_weight_transform([this](const Var& weight) { return normalized(weight); });
}

void SpectralNorm::reset_parameters(Generator& gen, Init) {
  fill_normal(*u, gen);
  normalize_(*u, eps);
  fill_normal(*v, gen);
  normalize_(*v, eps);
}

Var SpectralNorm::normalized(const Var& weight) {
  const int64_t rows = weight.shape()[0];
  if (is_training()) {
    // One power iteration on the current weight (no gradient through u and v).
    Tensor m = weight.data().reshape({rows, -1});
    Tensor nv = kernels::matmul(m, *u, true, false);
    normalize_(nv, eps);
    Tensor nu = kernels::matmul(m, nv);
    normalize_(nu, eps);
    v->copy_(nv);
    u->copy_(nu);
  }
  // sigma = u^T W v, differentiable in W.
  Var sigma = sum(mul(Var(*u), matmul(reshape(weight, {rows, -1}), Var(*v))));
  return div(weight, sigma);
}

double SpectralNorm::sigma() {
  const Tensor& w = layer->weight().data();
  Tensor wv = kernels::matmul(w.reshape({w.shape()[0], -1}), *v);
  return kernels::sum(kernels::binary(kernels::Binary::mul, wv, *u)).item();
}

std::shared_ptr<SpectralNorm> spectral_norm(std::shared_ptr<Weighted> layer) {
  return std::make_shared<SpectralNorm>(std::move(layer));
}

}  // namespace odegan::nn
