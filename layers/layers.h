// The layer library: each layer is a Module whose forward is built from differentiable
// functions (autodiff/functions.h), so every layer works on CPU and CUDA and supports
// gradients of gradients.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "autodiff/functions.h"
#include "layers/module.h"

namespace odegan::nn {

// Layers with a weight may have it transformed before use (spectral normalisation).
class Weighted : public Module {
 public:
  using WeightTransform = std::function<Var(const Var& weight)>;
  void set_weight_transform(WeightTransform f) { transform_ = std::move(f); }
  Var& weight() { return weight_; }
  Var& bias() { return bias_; }
  // The weight as used by forward (transformed when a transform is set).
  Var effective_weight() { return transform_ ? transform_(weight_) : weight_; }
  // The dimension of the weight that indexes outputs (spectral norm's rows).
  virtual int output_axis() const { return 0; }

 protected:
  Var weight_, bias_;
  WeightTransform transform_;
};

// y = x W^T + b.  x (N, in) -> (N, out).  weight (out, in), bias (out).
class Linear : public Weighted {
 public:
  Linear(int64_t in, int64_t out, bool bias = true, DType dtype = DType::f32);
  std::string type_name() const override { return "Linear"; }
  Var forward(const Var& x) override;
  void reset_parameters(Generator& gen, Init init) override;
  int64_t in_features, out_features;
};

// x (N, C, H, W) -> (N, K, P, Q).  weight (K, C, R, S), bias (K).
class Conv2d : public Weighted {
 public:
  Conv2d(int64_t in, int64_t out, int kernel, int stride = 1, int padding = 0, bool bias = true,
         DType dtype = DType::f32, int dilation = 1);
  // Rectangular kernel R x S = kernel_h x kernel_w with padding (pad_h, pad_w), as
  // Inception's 1x7 / 7x1 convolutions.
  Conv2d(int64_t in, int64_t out, int kernel_h, int kernel_w, int stride, int pad_h, int pad_w, bool bias = true,
         DType dtype = DType::f32);
  std::string type_name() const override { return "Conv2d"; }
  Var forward(const Var& x) override;
  void reset_parameters(Generator& gen, Init init) override;
  int64_t in_channels, out_channels;
  int kernel_h, kernel_w;
  kernels::Conv2dGeometry geom;
};

// The transpose (adjoint) of Conv2d: x (N, C_in, H, W) -> (N, C_out, H', W'),
// H' = (H - 1) stride - 2 padding + kernel + output_padding.  weight (C_in, C_out, R, S).
class ConvTranspose2d : public Weighted {
 public:
  ConvTranspose2d(int64_t in, int64_t out, int kernel, int stride = 1, int padding = 0, int output_padding = 0,
                  bool bias = true, DType dtype = DType::f32);
  std::string type_name() const override { return "ConvTranspose2d"; }
  Var forward(const Var& x) override;
  void reset_parameters(Generator& gen, Init init) override;
  int output_axis() const override { return 1; }
  int64_t in_channels, out_channels;
  int kernel, output_padding;
  kernels::Conv2dGeometry geom;
};

// Batch normalisation with batch statistics in training mode and running statistics in
// eval mode (updated only in training). momentum as in PyTorch: running =
// (1 - momentum) running + momentum batch; the reference (Sonnet) uses eps 1e-3 and a
// moving-average decay of 0.999, i.e. momentum 0.001.
class BatchNorm : public Module {
 public:
  BatchNorm(int64_t channels, double eps = 1e-5, double momentum = 0.1, bool affine = true, DType dtype = DType::f32);
  Var forward(const Var& x) override;
  void reset_parameters(Generator& gen, Init init) override;
  int64_t channels;
  double eps, momentum;
  Var gamma, beta;  // undefined when not affine
  Tensor* running_mean;
  Tensor* running_var;
  // Data parallelism: when set, training mode normalises with the global batch's statistics
  // (sync_batch_norm); null: this rank's shard (per-replica statistics).
  std::shared_ptr<Communicator> sync;
};
// Makes every batch norm in the tree (conditional ones included) synchronised over `comm`
// (null: back to per-replica statistics). Returns how many there are.
int set_sync_batch_norm(Module& root, const std::shared_ptr<Communicator>& comm);
class BatchNorm2d : public BatchNorm {  // (N, C, H, W)
 public:
  using BatchNorm::BatchNorm;
  std::string type_name() const override { return "BatchNorm2d"; }
  Var forward(const Var& x) override;
};
class BatchNorm1d : public BatchNorm {  // (N, C)
 public:
  using BatchNorm::BatchNorm;
  std::string type_name() const override { return "BatchNorm1d"; }
  Var forward(const Var& x) override;
};

// Class-conditional batch norm: normalisation without affine, then a per-class gain and
// bias looked up from embeddings: y = xhat * gamma[label] + beta[label].
class ConditionalBatchNorm2d : public Module {
 public:
  ConditionalBatchNorm2d(int64_t channels, int64_t num_classes, double eps = 1e-5, double momentum = 0.1,
                         DType dtype = DType::f32);
  std::string type_name() const override { return "ConditionalBatchNorm2d"; }
  Var forward(const Var& x, const Tensor& labels);
  void reset_parameters(Generator& gen, Init init) override;
  std::shared_ptr<BatchNorm2d> norm;
  Var gamma, beta;  // (num_classes, C): gains start at 1, biases at 0
};

// A lookup table: int32 indices (N) -> rows (N, D).  weight (V, D).
class Embedding : public Weighted {
 public:
  Embedding(int64_t num, int64_t dim, DType dtype = DType::f32);
  std::string type_name() const override { return "Embedding"; }
  Var forward(const Tensor& indices);
  void reset_parameters(Generator& gen, Init init) override;
  int64_t num, dim;
};

// ---- parameter-free layers
class ReLU : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }
  Var forward(const Var& x) override { return ad::relu(x); }
};
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.2) : slope(negative_slope) {}
  std::string type_name() const override { return "LeakyReLU"; }
  Var forward(const Var& x) override { return ad::leaky_relu(x, slope); }
  double slope;
};
class Tanh : public Module {
 public:
  std::string type_name() const override { return "Tanh"; }
  Var forward(const Var& x) override { return ad::tanh(x); }
};
class SiLU : public Module {  // x * sigmoid(x); the worked example of docs/adding-a-layer.md
 public:
  std::string type_name() const override { return "SiLU"; }
  Var forward(const Var& x) override { return ad::silu(x); }
};
class Sigmoid : public Module {
 public:
  std::string type_name() const override { return "Sigmoid"; }
  Var forward(const Var& x) override { return ad::sigmoid(x); }
};
class Upsample : public Module {  // nearest neighbour, x2
 public:
  std::string type_name() const override { return "Upsample"; }
  Var forward(const Var& x) override { return ad::upsample_nearest2x(x); }
};
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int kernel = 2, int stride = -1, int padding = 0)
      : geom(kernels::Pool2dGeometry::make(kernel, stride < 0 ? kernel : stride, padding)) {}
  std::string type_name() const override { return "AvgPool2d"; }
  Var forward(const Var& x) override { return ad::avg_pool2d(x, geom); }
  kernels::Pool2dGeometry geom;
};
// (N, C, H, W) -> (N, C): sums over the spatial positions (SN-GAN's ResNet D).
class GlobalSumPool : public Module {
 public:
  std::string type_name() const override { return "GlobalSumPool"; }
  Var forward(const Var& x) override { return ad::sum(x, {2, 3}); }
};
// (N, ...) -> (N, prod(...)).
class Flatten : public Module {
 public:
  std::string type_name() const override { return "Flatten"; }
  Var forward(const Var& x) override { return ad::flatten(x, 1); }
};
// (N, ...) -> (N, shape...): the batch dimension is kept.
class Reshape : public Module {
 public:
  explicit Reshape(std::vector<int64_t> dims) : shape(std::move(dims)) {}
  std::string type_name() const override { return "Reshape"; }
  Var forward(const Var& x) override;
  std::vector<int64_t> shape;
};

// Runs its children in order.
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> layers);
  std::string type_name() const override { return "Sequential"; }
  Sequential& add(std::shared_ptr<Module> m);
  Var forward(const Var& x) override;
  size_t size() const { return layers_.size(); }
  std::shared_ptr<Module> operator[](size_t i) const { return layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace odegan::nn
