#include "layers/models/classifier.h"

#include "autodiff/functions.h"
#include "kernels/reduce.h"
#include "kernels/shape_ops.h"

namespace odegan::nn::models {

Classifier::Classifier(const ClassifierOptions& o) : opt_(o) {
  ODEGAN_CHECK(o.image_channels > 0 && o.image_size >= 8 && o.image_size % 8 == 0 && o.width > 0 &&
                   o.features > 0 && o.num_classes > 1,
               "Classifier: bad configuration (channels ", o.image_channels, ", size ", o.image_size, ", width ",
               o.width, ", features ", o.features, ", classes ", o.num_classes, ")");
  body_ = register_module("body", std::make_shared<Sequential>());
  int64_t in = o.image_channels;
  for (int64_t out : {o.width, 2 * o.width, 4 * o.width}) {
    body_->add(std::make_shared<Conv2d>(in, out, 3, 1, 1, true, o.dtype));
    body_->add(std::make_shared<BatchNorm2d>(out, 1e-5, 0.1, true, o.dtype));
    body_->add(std::make_shared<ReLU>());
    body_->add(std::make_shared<AvgPool2d>(2));
    in = out;
  }
  const int64_t side = o.image_size / 8;
  body_->add(std::make_shared<Flatten>());
  body_->add(std::make_shared<Linear>(in * side * side, o.features, true, o.dtype));
  body_->add(std::make_shared<ReLU>());
  head_ = register_module("head", std::make_shared<Linear>(o.features, o.num_classes, true, o.dtype));
}

Var Classifier::features(const Var& x) {
  ODEGAN_CHECK(x.ndim() == 4 && x.shape()[1] == opt_.image_channels && x.shape()[2] == opt_.image_size &&
                   x.shape()[3] == opt_.image_size,
               "Classifier: images must be (N, ", opt_.image_channels, ", ", opt_.image_size, ", ", opt_.image_size,
               "), got ", x.shape().str());
  return (*body_)(x);
}

Var Classifier::logits(const Var& f) { return (*head_)(f); }

Var Classifier::forward(const Var& x) { return logits(features(x)); }

Var cross_entropy(const Var& logits, const Tensor& labels) {
  ODEGAN_CHECK(logits.ndim() == 2, "cross_entropy: logits must be (N, K), got ", logits.shape().str());
  const int64_t n = logits.shape()[0], k = logits.shape()[1];
  ODEGAN_CHECK(labels.defined() && labels.dtype() == DType::i32 && labels.ndim() == 1 && labels.shape()[0] == n,
               "cross_entropy: need one int32 label per row of the (", n, ", ", k, ") logits, got ", describe(labels));
  // log-sum-exp shifted by each row's (constant) maximum for stability.
  Tensor m = kernels::max(logits.data(), {1}, true);
  Var shifted = sub(logits, broadcast_to(Var(m), logits.shape()));
  Var lse = log(sum(exp(shifted), {1}));
  Tensor hot = kernels::one_hot(labels.to(logits.device()), k, logits.dtype());
  Var picked = sum(mul(shifted, Var(hot)), {1});
  return mean(sub(lse, picked));
}

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  ODEGAN_CHECK(logits.ndim() == 2 && labels.ndim() == 1 && labels.shape()[0] == logits.shape()[0],
               "count_correct: logits (N, K) and labels (N) expected, got ", logits.shape().str(), " and ",
               labels.shape().str());
  Tensor l = logits.to(Device::cpu()).to(DType::f64);
  Tensor y = labels.to(Device::cpu());
  const int64_t n = l.shape()[0], k = l.shape()[1];
  const double* p = l.data<double>();
  const int32_t* t = y.data<int32_t>();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (p[i * k + j] > p[i * k + best]) best = j;
    correct += best == t[i];
  }
  return correct;
}

}  // namespace odegan::nn::models
