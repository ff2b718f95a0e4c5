// Spectral normalisation (Miyato et al., 2018) as a wrapper: the wrapped layer's weight W
// is used as W / sigma(W), with sigma estimated by one power iteration per training
// forward from a persistent vector u (a buffer, so it is saved with the model). In eval
// mode the stored u and v are used without iterating. Used by the SN-GAN baseline.
#pragma once
#include <memory>

#include "layers/layers.h"

namespace odegan::nn {

class SpectralNorm : public Module {
 public:
  SpectralNorm(std::shared_ptr<Weighted> layer, double eps = 1e-12);
  std::string type_name() const override { return "SpectralNorm"; }
  Var forward(const Var& x) override { return (*layer)(x); }
  void reset_parameters(Generator& gen, Init init) override;
  // W / sigma(W) (differentiable in W; u and v are constants).
  Var normalized(const Var& weight);
  // The current estimate of the largest singular value (no power iteration).
  double sigma();

  std::shared_ptr<Weighted> layer;
  Tensor* u;  // (rows)
  Tensor* v;  // (cols)
  double eps;
};

// Wraps a layer in spectral normalisation.
std::shared_ptr<SpectralNorm> spectral_norm(std::shared_ptr<Weighted> layer);

}  // namespace odegan::nn
