// Baseline optimisers over flat buffers (the paper compares ODE solvers against them):
// plain gradient descent and Adam (beta1 = 0.5, beta2 = 0.999 by default, as in the GAN
// literature and the reference code). Their state is what checkpoints store.
#pragma once
#include <map>
#include <string>

#include "core/tensor.h"
#include "kernels/optim.h"

namespace odegan::solvers {

class Sgd {
 public:
  explicit Sgd(double lr) : lr_(lr) {}
  // params -= lr * grads
  void step(Tensor& params, const Tensor& grads);
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }

 private:
  double lr_;
};

struct AdamOptions {
  double lr = 2e-4;
  double beta1 = 0.5, beta2 = 0.999, eps = 1e-8;
};

class Adam {
 public:
  explicit Adam(AdamOptions options = {}) : opt_(options) {}
  // params -= lr * m_hat / (sqrt(v_hat) + eps), moments updated with grads.
  void step(Tensor& params, const Tensor& grads);
  // The same update's direction only (moments updated, params untouched): the
  // per-coordinate scaling that "RK4 + Adam" applies to the solver's velocity.
  void direction(const Tensor& grads, Tensor& dir);

  const AdamOptions& options() const { return opt_; }
  void set_lr(double lr) { opt_.lr = lr; }
  int64_t steps() const { return t_; }
  // Checkpoint state: {"m", "v"} tensors and the step count.
  std::map<std::string, Tensor> state() const;
  void load_state(const std::map<std::string, Tensor>& state, int64_t steps);

 private:
  void ensure(const Tensor& like);
  AdamOptions opt_;
  Tensor m_, v_;
  int64_t t_ = 0;
};

}  // namespace odegan::solvers
