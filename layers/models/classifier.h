// A small CNN classifier for 32x32 grey images (Fashion-MNIST padded to 32x32), used as the
// feature network of the "FD-FMNIST" yardstick: the Frechet distance between classifier
// features of real and generated images, computable on a CPU where Inception is out of reach.
//   features: [conv 3x3 -> batch norm -> ReLU -> avg pool 2] x3 (16, 32, 64 channels) -> flatten
//             -> linear 128 -> ReLU     (batch norm: batch statistics in training, running ones in eval)
//   head:     linear 128 -> num_classes logits
#pragma once
#include <memory>

#include "layers/layers.h"

namespace odegan::nn::models {

struct ClassifierOptions {
  int64_t image_channels = 1;
  int64_t image_size = 32;  // multiple of 8
  int64_t width = 16;       // channels of the first convolution (then x2, x4)
  int64_t features = 128;   // penultimate (feature) dimension
  int64_t num_classes = 10;
  DType dtype = DType::f32;
};

class Classifier : public Module {
 public:
  explicit Classifier(const ClassifierOptions& o = {});
  std::string type_name() const override { return "Classifier"; }
  // Logits (N, num_classes) for images (N, C, H, W) in [-1, 1].
  Var forward(const Var& x) override;
  // The penultimate activations (N, features).
  Var features(const Var& x);
  // Logits from features.
  Var logits(const Var& features);
  const ClassifierOptions& options() const { return opt_; }

 private:
  ClassifierOptions opt_;
  std::shared_ptr<Sequential> body_;
  std::shared_ptr<Linear> head_;
};

// Mean softmax cross-entropy of logits (N, K) against one int32 class per row (N),
// built from differentiable ops (so it has a gradient, and a second one).
Var cross_entropy(const Var& logits, const Tensor& labels);

// Number of rows whose largest logit is the label (argmax ties go to the first class).
int64_t count_correct(const Tensor& logits, const Tensor& labels);

}  // namespace odegan::nn::models
