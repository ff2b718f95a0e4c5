#include "layers/layers.h"

#include "layers/init.h"

namespace odegan::nn {

using namespace odegan::ad;

// ---------------------------------------------------------------- Linear

Linear::Linear(int64_t in, int64_t out, bool bias, DType dtype) : in_features(in), out_features(out) {
  ODEGAN_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got ", in, " -> ", out);
  weight_ = register_parameter("weight", Tensor::zeros({out, in}, dtype));
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out}, dtype));
}

void Linear::reset_parameters(Generator& gen, Init init) {
  Tensor w = weight_.data();
  init_weight(w, in_features, out_features, init, gen);
  if (bias_.defined()) {
    Tensor b = bias_.data();
    init_bias(b, in_features, init, gen);
  }
}

Var Linear::forward(const Var& x) {
  ODEGAN_CHECK(x.ndim() == 2 && x.shape()[1] == in_features, "Linear(", in_features, " -> ", out_features,
               "): input must be (N, ", in_features, "), got ", x.shape().str());
  return linear(x, effective_weight(), bias_);
}

// ---------------------------------------------------------------- convolutions

Conv2d::Conv2d(int64_t in, int64_t out, int k, int stride, int padding, bool bias, DType dtype, int dilation)
    : in_channels(in),
      out_channels(out),
      kernel_h(k),
      kernel_w(k),
      geom(kernels::Conv2dGeometry::make(stride, padding, dilation)) {
  ODEGAN_CHECK(in > 0 && out > 0 && k > 0 && stride > 0 && padding >= 0, "Conv2d: bad configuration (", in, " -> ",
               out, ", kernel ", k, ", stride ", stride, ", padding ", padding, ")");
  weight_ = register_parameter("weight", Tensor::zeros({out, in, k, k}, dtype));
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out}, dtype));
}

Conv2d::Conv2d(int64_t in, int64_t out, int kh, int kw, int stride, int pad_h, int pad_w, bool bias, DType dtype)
    : in_channels(in), out_channels(out), kernel_h(kh), kernel_w(kw), geom{stride, stride, pad_h, pad_w, 1, 1} {
  ODEGAN_CHECK(in > 0 && out > 0 && kh > 0 && kw > 0 && stride > 0 && pad_h >= 0 && pad_w >= 0,
               "Conv2d: bad configuration (", in, " -> ", out, ", kernel ", kh, "x", kw, ", stride ", stride,
               ", padding ", pad_h, "x", pad_w, ")");
  weight_ = register_parameter("weight", Tensor::zeros({out, in, kh, kw}, dtype));
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out}, dtype));
}

void Conv2d::reset_parameters(Generator& gen, Init init) {
  Tensor w = weight_.data();
  const int64_t area = int64_t(kernel_h) * kernel_w;
  init_weight(w, in_channels * area, out_channels * area, init, gen);
  if (bias_.defined()) {
    Tensor b = bias_.data();
    init_bias(b, in_channels * area, init, gen);
  }
}

Var Conv2d::forward(const Var& x) {
  ODEGAN_CHECK(x.ndim() == 4 && x.shape()[1] == in_channels, "Conv2d(", in_channels, " -> ", out_channels,
               "): input must be (N, ", in_channels, ", H, W), got ", x.shape().str());
  return conv2d(x, effective_weight(), bias_, geom);
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int k, int stride, int padding, int out_pad, bool bias,
                                 DType dtype)
    : in_channels(in),
      out_channels(out),
      kernel(k),
      output_padding(out_pad),
      geom(kernels::Conv2dGeometry::make(stride, padding)) {
  ODEGAN_CHECK(in > 0 && out > 0 && k > 0 && stride > 0 && padding >= 0 && out_pad >= 0 && out_pad < stride,
               "ConvTranspose2d: bad configuration (", in, " -> ", out, ", kernel ", k, ", stride ", stride,
               ", padding ", padding, ", output padding ", out_pad, ")");
  weight_ = register_parameter("weight", Tensor::zeros({in, out, k, k}, dtype));
  if (bias) bias_ = register_parameter("bias", Tensor::zeros({out}, dtype));
}

void ConvTranspose2d::reset_parameters(Generator& gen, Init init) {
  // Fans as for the convolution this is the adjoint of: each output sums over in_channels * k^2.
  Tensor w = weight_.data();
  init_weight(w, in_channels * kernel * kernel, out_channels * kernel * kernel, init, gen);
  if (bias_.defined()) {
    Tensor b = bias_.data();
    init_bias(b, in_channels * kernel * kernel, init, gen);
  }
}

Var ConvTranspose2d::forward(const Var& x) {
  ODEGAN_CHECK(x.ndim() == 4 && x.shape()[1] == in_channels, "ConvTranspose2d(", in_channels, " -> ", out_channels,
               "): input must be (N, ", in_channels, ", H, W), got ", x.shape().str());
  return conv_transpose2d(x, effective_weight(), bias_, geom, output_padding, output_padding);
}

// ---------------------------------------------------------------- batch norm

BatchNorm::BatchNorm(int64_t c, double eps_, double momentum_, bool affine, DType dtype)
    : channels(c), eps(eps_), momentum(momentum_) {
  ODEGAN_CHECK(c > 0 && eps_ > 0 && momentum_ >= 0 && momentum_ <= 1, "BatchNorm: bad configuration (channels ", c,
               ", eps ", eps_, ", momentum ", momentum_, ")");
  if (affine) {
    // PyTorch's names (weight, bias, running_mean, running_var), so state_dicts load there.
    gamma = register_parameter("weight", Tensor::ones({c}, dtype));
    beta = register_parameter("bias", Tensor::zeros({c}, dtype));
  }
  running_mean = &register_buffer("running_mean", Tensor::zeros({c}, dtype));
  running_var = &register_buffer("running_var", Tensor::ones({c}, dtype));
}

void BatchNorm::reset_parameters(Generator&, Init) {
  if (gamma.defined()) gamma.data().fill_(1.0);
  if (beta.defined()) beta.data().zero_();
  running_mean->zero_();
  running_var->fill_(1.0);
}

Var BatchNorm::forward(const Var& x) {
  ODEGAN_CHECK(x.shape()[1] == channels, type_name(), "(", channels, "): input has ", x.shape()[1],
               " channels: ", x.shape().str());
  if (sync) return sync_batch_norm(x, gamma, beta, *running_mean, *running_var, is_training(), momentum, eps, sync);
  return batch_norm(x, gamma, beta, *running_mean, *running_var, is_training(), momentum, eps);
}

int set_sync_batch_norm(Module& root, const std::shared_ptr<Communicator>& comm) {
  int n = 0;
  if (auto* bn = dynamic_cast<BatchNorm*>(&root)) bn->sync = comm, ++n;
  for (auto& [name, child] : root.named_children()) n += set_sync_batch_norm(*child, comm);
  return n;
}

Var BatchNorm2d::forward(const Var& x) {
  ODEGAN_CHECK(x.ndim() == 4, "BatchNorm2d: input must be (N, C, H, W), got ", x.shape().str());
  return BatchNorm::forward(x);
}

Var BatchNorm1d::forward(const Var& x) {
  ODEGAN_CHECK(x.ndim() == 2, "BatchNorm1d: input must be (N, C), got ", x.shape().str());
  return BatchNorm::forward(x);
}

ConditionalBatchNorm2d::ConditionalBatchNorm2d(int64_t c, int64_t num_classes, double eps, double momentum,
                                               DType dtype) {
  norm = register_module("norm", std::make_shared<BatchNorm2d>(c, eps, momentum, false, dtype));
  gamma = register_parameter("weight", Tensor::ones({num_classes, c}, dtype));  // one row per class
  beta = register_parameter("bias", Tensor::zeros({num_classes, c}, dtype));
}

void ConditionalBatchNorm2d::reset_parameters(Generator&, Init) {
  gamma.data().fill_(1.0);
  beta.data().zero_();
}

Var ConditionalBatchNorm2d::forward(const Var& x, const Tensor& labels) {
  ODEGAN_CHECK(labels.defined() && labels.ndim() == 1 && labels.shape()[0] == x.shape()[0],
               "ConditionalBatchNorm2d: need one int32 label per sample, got ", describe(labels), " for input ",
               x.shape().str());
  const int64_t n = x.shape()[0], c = x.shape()[1];
  Var xhat = (*norm)(x);
  Var g = reshape(embedding(gamma, labels), {n, c, 1, 1});
  Var b = reshape(embedding(beta, labels), {n, c, 1, 1});
  return add(mul(xhat, g), b);
}

// ---------------------------------------------------------------- embedding

Embedding::Embedding(int64_t n, int64_t d, DType dtype) : num(n), dim(d) {
  ODEGAN_CHECK(n > 0 && d > 0, "Embedding: sizes must be positive, got ", n, " x ", d);
  weight_ = register_parameter("weight", Tensor::zeros({n, d}, dtype));
}

void Embedding::reset_parameters(Generator& gen, Init init) {
  Tensor w = weight_.data();
  init_weight(w, dim, num, init == Init::dcgan ? Init::dcgan : Init::xavier_uniform, gen);
}

Var Embedding::forward(const Tensor& indices) { return embedding(effective_weight(), indices); }

// ---------------------------------------------------------------- containers

Var Reshape::forward(const Var& x) {
  std::vector<int64_t> s{x.shape()[0]};
  s.insert(s.end(), shape.begin(), shape.end());
  return reshape(x, Shape(s));
}

Sequential::Sequential(std::vector<std::shared_ptr<Module>> layers) {
  for (auto& m : layers) add(std::move(m));
}

Sequential& Sequential::add(std::shared_ptr<Module> m) {
  add_child(std::to_string(layers_.size()), m);
  layers_.push_back(std::move(m));
  return *this;
}

Var Sequential::forward(const Var& x) {
  Var h = x;
  for (auto& m : layers_) h = (*m)(h);
  return h;
}

}  // namespace odegan::nn
