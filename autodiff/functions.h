// Differentiable functions. Each computes its result with the kernels and, when grad
// mode is on and an input requires grad, records a Node whose derivative rule (all of
// them are in autodiff/derivatives.cpp) is itself written with these functions — so
// gradients can be differentiated again, to any order.
#pragma once
#include <vector>

#include "autodiff/var.h"
#include "core/comm.h"
#include "kernels/conv.h"
#include "kernels/pool.h"

namespace odegan::ad {

// ---- elementwise (binary ops broadcast NumPy-style; gradients sum back to the shapes)
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var add(const Var& a, double b);
Var mul(const Var& a, double b);
Var affine(const Var& x, double a, double b);  // a * x + b
Var neg(const Var& x);
Var exp(const Var& x);
Var log(const Var& x);
Var sqrt(const Var& x);
Var rsqrt(const Var& x);  // 1 / sqrt(x)
Var square(const Var& x);
Var abs(const Var& x);
Var pow(const Var& x, double p);
Var relu(const Var& x);
Var leaky_relu(const Var& x, double slope);
Var tanh(const Var& x);
Var sigmoid(const Var& x);
Var softplus(const Var& x);     // log(1 + e^x), stable
Var log_sigmoid(const Var& x);  // -softplus(-x)
Var silu(const Var& x);         // x * sigmoid(x)

inline Var operator+(const Var& a, const Var& b) { return add(a, b); }
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }
inline Var operator/(const Var& a, const Var& b) { return div(a, b); }
inline Var operator-(const Var& a) { return neg(a); }
inline Var operator+(const Var& a, double b) { return add(a, b); }
inline Var operator-(const Var& a, double b) { return add(a, -b); }
inline Var operator*(const Var& a, double b) { return mul(a, b); }
inline Var operator*(double a, const Var& b) { return mul(b, a); }
inline Var operator/(const Var& a, double b) { return mul(a, 1.0 / b); }

// The fused backward of the activations, themselves differentiable:
Var relu_backward(const Var& grad, const Var& x);                      // grad * (x > 0)
Var leaky_relu_backward(const Var& grad, const Var& x, double slope);  // grad * (x > 0 ? 1 : slope)
Var tanh_backward(const Var& grad, const Var& y);                      // grad * (1 - y^2), y = tanh(x)
Var sigmoid_backward(const Var& grad, const Var& y);                   // grad * y (1 - y), y = sigmoid(x)
Var silu_backward(const Var& grad, const Var& x);                      // grad * silu'(x)

// ---- reductions and shape
Var sum(const Var& x, const std::vector<int>& axes = {}, bool keepdim = false);
Var mean(const Var& x, const std::vector<int>& axes = {}, bool keepdim = false);
Var sum_squares(const Var& x);  // sum of x^2 over all elements (0-d)
Var broadcast_to(const Var& x, const Shape& shape);
Var sum_to(const Var& x, const Shape& shape);  // adjoint of broadcast_to
Var reshape(const Var& x, const Shape& shape);
Var flatten(const Var& x, int start_axis = 1);  // (N, ...) -> (N, prod(...))
Var concat(const std::vector<Var>& xs, int axis);
Var slice(const Var& x, int axis, int64_t begin, int64_t end);
Var transpose(const Var& x);  // swaps the last two axes

// ---- linear algebra and convolution
Var matmul(const Var& a, const Var& b, bool trans_a = false, bool trans_b = false);
// x (N, in) · w (out, in)^T + b (out); b may be undefined.
Var linear(const Var& x, const Var& w, const Var& b = Var());
// x (N, C, H, W), w (K, C, R, S), b (K) or undefined.
Var conv2d(const Var& x, const Var& w, const Var& b, const kernels::Conv2dGeometry& g);
// x (N, C_in, H, W), w (C_in, C_out, R, S), b (C_out) or undefined.
Var conv_transpose2d(const Var& x, const Var& w, const Var& b, const kernels::Conv2dGeometry& g,
                     int output_padding_h = 0, int output_padding_w = 0);
// The two halves of a convolution's backward, each differentiable (their derivatives are
// convolutions again): the gradient w.r.t. the input (= a transposed convolution) and
// w.r.t. the filter.
Var conv2d_backward_data(const Var& gy, const Var& w, const Shape& x_shape, const kernels::Conv2dGeometry& g);
Var conv2d_backward_filter(const Var& x, const Var& gy, const Shape& w_shape, const kernels::Conv2dGeometry& g);

// ---- normalisation
// Batch norm over NCHW (per C over N, H, W) or (N, C). Training mode normalises with the
// batch statistics (gradients flow through them) and, when running_mean/var are defined,
// updates them in place: running = (1 - momentum) running + momentum batch. Inference mode
// uses the running statistics as constants. gamma/beta may be undefined (no affine).
Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor running_mean, Tensor running_var,
               bool training, double momentum, double eps);

// Synchronised batch norm (data parallelism): training-mode batch norm whose statistics are
// those of the global batch, every rank holding an equal shard. Written with differentiable
// functions and all_reduce_sum, so its first and second derivatives are the global
// batch's too. With one rank it equals batch_norm up to round-off. Inference mode: as
// batch_norm.
Var sync_batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor running_mean, Tensor running_var,
                    bool training, double momentum, double eps, const std::shared_ptr<Communicator>& comm);

// ---- collectives
// The sum over ranks of every rank's x (same shape everywhere). Its derivative is the same
// all-reduce of the incoming gradients (the gradient of the ranks' summed objective), so it
// can sit anywhere in a graph, to any order. Every rank must reach it in the same order.
Var all_reduce_sum(const Var& x, const std::shared_ptr<Communicator>& comm);

// ---- pooling and resampling (NCHW)
Var avg_pool2d(const Var& x, const kernels::Pool2dGeometry& g);
Var max_pool2d(const Var& x, const kernels::Pool2dGeometry& g);
Var upsample_nearest2x(const Var& x);
// Bilinear resampling to (out_h, out_w) as F.interpolate(mode="bilinear", align_corners=False).
Var resize_bilinear(const Var& x, int64_t out_h, int64_t out_w);

// ---- embeddings: table (V, D), indices int32 (N) -> (N, D)
Var embedding(const Var& table, const Tensor& indices);

// ---- GAN losses on logits (means over the batch)
// Binary cross-entropy with logits against a constant label (1 = real, 0 = fake):
// mean softplus(-x) for label 1, mean softplus(x) for label 0.
Var bce_with_logits(const Var& logits, double label);
// Softmax cross-entropy with one integer class for every row of logits (N, K), K = 2 in
// the reference code's 2-logit discriminator.
Var softmax_cross_entropy(const Var& logits, int target_class);

// ---- adjoints used by derivative rules (each linear in its first argument, with its
// own rule): the gradients of pooling, upsampling, slicing and embedding lookups.
Var avg_pool2d_backward(const Var& gy, const Shape& x_shape, const kernels::Pool2dGeometry& g);
Var max_pool2d_backward(const Var& gy, const Tensor& indices, const Shape& x_shape,
                        const kernels::Pool2dGeometry& g);
Var max_pool2d_gather(const Var& x, const Tensor& indices, const Shape& y_shape, const kernels::Pool2dGeometry& g);
Var upsample_nearest2x_backward(const Var& gy);
Var resize_bilinear_backward(const Var& gy, const Shape& x_shape);
Var slice_backward(const Var& gy, int axis, int64_t begin, const Shape& x_shape);  // zeros + gy placed
Var embedding_backward(const Var& gy, const Tensor& indices, int64_t num_rows);   // scatter-add
// Training-mode batch norm backward as one fused, differentiable function of (gy, x, gamma):
// returns {gx, ggamma, gbeta}. mean/invstd are the forward's batch statistics of x.
std::vector<Var> batch_norm_backward(const Var& gy, const Var& x, const Var& gamma, const Tensor& mean,
                                     const Tensor& invstd, double eps);

}  // namespace odegan::ad
