// Forward halves of the differentiable functions: compute with the kernels, then record
// a node (autodiff/nodes.h) with what its rule (autodiff/derivatives.cpp) needs.
#include "autodiff/functions.h"

#include "autodiff/nodes.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/matmul.h"
#include "kernels/norm.h"
#include "kernels/pool.h"
#include "kernels/reduce.h"
#include "kernels/resize.h"
#include "kernels/shape_ops.h"

namespace odegan::ad {
namespace {

using kernels::Binary;
using kernels::Unary;

// The result Var: attached to the node when one was recorded, a plain constant otherwise.
template <class N>
Var finish(Tensor y, const std::shared_ptr<N>& node) {
  return node ? make_output(std::move(y), node) : Var(std::move(y));
}

// Unary op whose rule needs the input x.
template <class N>
Var unary_saving_input(Unary op, const Var& x, double a = 0, double b = 0) {
  Tensor y = kernels::unary(op, x.data(), a, b);
  auto node = make_node<N>({&x});
  if (node) node->x = SavedVar(x, false);
  return finish(y, node);
}

// Unary op whose rule needs the output y.
template <class N>
Var unary_saving_output(Unary op, const Var& x) {
  Tensor y = kernels::unary(op, x.data());
  auto node = make_node<N>({&x});
  Var out = finish(y, node);
  if (node) node->y = SavedVar(out, true);
  return out;
}

template <class N>
Var binary_saving_inputs(Binary op, const Var& a, const Var& b) {
  Tensor y = kernels::binary(op, a.data(), b.data());
  auto node = make_node<N>({&a, &b});
  if (node) {
    node->a = SavedVar(a, false);
    node->b = SavedVar(b, false);
  }
  return finish(y, node);
}

// Shape of a per-channel vector (C) broadcast against NCHW or (N, C).
Shape channel_shape(const Var& x, int64_t c) { return x.ndim() == 4 ? Shape{1, c, 1, 1} : Shape{1, c}; }

}  // namespace

// ---------------------------------------------------------------- elementwise

Var add(const Var& a, const Var& b) {
  Tensor y = kernels::binary(Binary::add, a.data(), b.data());
  auto node = make_node<AddBackward>({&a, &b});
  if (node) node->a_shape = a.shape(), node->b_shape = b.shape();
  return finish(y, node);
}

Var sub(const Var& a, const Var& b) {
  Tensor y = kernels::binary(Binary::sub, a.data(), b.data());
  auto node = make_node<SubBackward>({&a, &b});
  if (node) node->a_shape = a.shape(), node->b_shape = b.shape();
  return finish(y, node);
}

Var mul(const Var& a, const Var& b) { return binary_saving_inputs<MulBackward>(Binary::mul, a, b); }
Var div(const Var& a, const Var& b) { return binary_saving_inputs<DivBackward>(Binary::div, a, b); }

Var affine(const Var& x, double a, double b) {
  Tensor y = kernels::unary(Unary::affine, x.data(), a, b);
  auto node = make_node<AffineBackward>({&x});
  if (node) node->a = a;
  return finish(y, node);
}
Var add(const Var& a, double b) { return affine(a, 1.0, b); }
Var mul(const Var& a, double b) { return affine(a, b, 0.0); }

Var neg(const Var& x) { return finish(kernels::unary(Unary::neg, x.data()), make_node<NegBackward>({&x})); }
Var exp(const Var& x) { return unary_saving_output<ExpBackward>(Unary::exp, x); }
Var log(const Var& x) { return unary_saving_input<LogBackward>(Unary::log, x); }
Var sqrt(const Var& x) { return unary_saving_output<SqrtBackward>(Unary::sqrt, x); }
Var rsqrt(const Var& x) { return unary_saving_output<RsqrtBackward>(Unary::rsqrt, x); }
Var square(const Var& x) { return unary_saving_input<SquareBackward>(Unary::square, x); }
Var abs(const Var& x) { return unary_saving_input<AbsBackward>(Unary::abs, x); }
Var relu(const Var& x) { return unary_saving_input<ReluBackward>(Unary::relu, x); }
Var tanh(const Var& x) { return unary_saving_output<TanhBackward>(Unary::tanh, x); }
Var sigmoid(const Var& x) { return unary_saving_output<SigmoidBackward>(Unary::sigmoid, x); }
Var softplus(const Var& x) { return unary_saving_input<SoftplusBackward>(Unary::softplus, x); }
Var log_sigmoid(const Var& x) { return neg(softplus(neg(x))); }
Var silu(const Var& x) { return unary_saving_input<SiluBackward>(Unary::silu, x); }

Var pow(const Var& x, double p) {
  Tensor y = kernels::unary(Unary::pow, x.data(), p);
  auto node = make_node<PowBackward>({&x});
  if (node) node->x = SavedVar(x, false), node->p = p;
  return finish(y, node);
}

Var leaky_relu(const Var& x, double slope) {
  Tensor y = kernels::unary(Unary::leaky_relu, x.data(), slope);
  auto node = make_node<LeakyReluBackward>({&x});
  if (node) node->x = SavedVar(x, false), node->slope = slope;
  return finish(y, node);
}

Var relu_backward(const Var& grad, const Var& x) {
  Tensor y = kernels::binary(Binary::relu_backward, grad.data(), x.data());
  auto node = make_node<ReluBackwardBackward>({&grad, &x});
  if (node) node->x = SavedVar(x, false);
  return finish(y, node);
}

Var leaky_relu_backward(const Var& grad, const Var& x, double slope) {
  Tensor y = kernels::binary(Binary::leaky_relu_backward, grad.data(), x.data(), slope);
  auto node = make_node<LeakyReluBackwardBackward>({&grad, &x});
  if (node) node->x = SavedVar(x, false), node->slope = slope;
  return finish(y, node);
}

Var tanh_backward(const Var& grad, const Var& y) {
  Tensor r = kernels::binary(Binary::tanh_backward, grad.data(), y.data());
  auto node = make_node<TanhBackwardBackward>({&grad, &y});
  if (node) node->grad = SavedVar(grad, false), node->y = SavedVar(y, false);
  return finish(r, node);
}

Var silu_backward(const Var& grad, const Var& x) {
  Tensor r = kernels::binary(Binary::silu_backward, grad.data(), x.data());
  auto node = make_node<SiluBackwardBackward>({&grad, &x});
  if (node) node->grad = SavedVar(grad, false), node->x = SavedVar(x, false);
  return finish(r, node);
}

Var sigmoid_backward(const Var& grad, const Var& y) {
  Tensor r = kernels::binary(Binary::sigmoid_backward, grad.data(), y.data());
  auto node = make_node<SigmoidBackwardBackward>({&grad, &y});
  if (node) node->grad = SavedVar(grad, false), node->y = SavedVar(y, false);
  return finish(r, node);
}

// ---------------------------------------------------------------- reductions and shape

namespace {
Var reduce_sum_like(const Var& x, const std::vector<int>& axes, bool keepdim, bool is_mean) {
  Tensor y = kernels::reduce(is_mean ? kernels::Reduce::mean : kernels::Reduce::sum, x.data(), axes, keepdim);
  auto node = make_node<SumBackward>({&x});
  if (node) {
    node->in_shape = x.shape();
    node->keep_shape = kernels::reduced_shape(x.shape(), axes, true);
    int64_t kept = node->keep_shape.numel();
    node->scale = is_mean ? static_cast<double>(kept) / static_cast<double>(std::max<int64_t>(x.numel(), 1)) : 1.0;
  }
  return finish(y, node);
}
}  // namespace

Var sum(const Var& x, const std::vector<int>& axes, bool keepdim) { return reduce_sum_like(x, axes, keepdim, false); }
Var mean(const Var& x, const std::vector<int>& axes, bool keepdim) { return reduce_sum_like(x, axes, keepdim, true); }
Var sum_squares(const Var& x) { return sum(square(x)); }

Var broadcast_to(const Var& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  Tensor y = kernels::broadcast_to(x.data(), shape);
  auto node = make_node<BroadcastToBackward>({&x});
  if (node) node->in_shape = x.shape();
  return finish(y, node);
}

Var sum_to(const Var& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  Tensor y = kernels::sum_to(x.data(), shape);
  auto node = make_node<SumToBackward>({&x});
  if (node) node->in_shape = x.shape();
  return finish(y, node);
}

Var reshape(const Var& x, const Shape& shape) {
  Tensor y = x.data().reshape(shape);
  if (y.shape() == x.shape()) return x;
  auto node = make_node<ReshapeBackward>({&x});
  if (node) node->in_shape = x.shape();
  return finish(y, node);
}

Var flatten(const Var& x, int start_axis) {
  int a = x.shape().normalize_axis(start_axis);
  std::vector<int64_t> dims(x.shape().begin(), x.shape().begin() + a);
  int64_t rest = 1;
  for (int i = a; i < x.ndim(); ++i) rest *= x.shape()[i];
  dims.push_back(rest);
  return reshape(x, Shape(dims));
}

Var concat(const std::vector<Var>& xs, int axis) {
  ODEGAN_CHECK(!xs.empty(), "concat: no inputs");
  std::vector<Tensor> ts;
  for (const Var& v : xs) ts.push_back(v.data());
  Tensor y = kernels::concat(ts, axis);
  bool record = false;
  for (const Var& v : xs) record = record || v.requires_grad();
  if (!grad_enabled() || !record) return Var(y);
  auto node = std::make_shared<ConcatBackward>();
  set_next_edges(*node, xs);
  node->axis = xs[0].shape().normalize_axis(axis);
  for (const Var& v : xs) node->sizes.push_back(v.shape()[node->axis]);
  return make_output(y, node);
}

Var slice(const Var& x, int axis, int64_t begin, int64_t end) {
  int a = x.shape().normalize_axis(axis);
  // Along the first axis a slice is a view; elsewhere a copy.
  Tensor y = a == 0 ? x.data().slice(begin, end) : kernels::slice_axis(x.data(), a, begin, end);
  auto node = make_node<SliceBackward>({&x});
  if (node) node->in_shape = x.shape(), node->axis = a, node->begin = begin, node->end = end;
  return finish(y, node);
}

Var slice_backward(const Var& gy, int axis, int64_t begin, const Shape& x_shape) {
  Tensor y = Tensor::zeros(x_shape, gy.dtype(), gy.device());
  kernels::slice_axis_assign(gy.data(), axis, begin, y);
  auto node = make_node<SliceBackwardBackward>({&gy});
  if (node) node->axis = axis, node->begin = begin, node->end = begin + gy.shape()[axis];
  return finish(y, node);
}

Var transpose(const Var& x) {
  return finish(kernels::transpose_last2(x.data()), make_node<TransposeBackward>({&x}));
}

// ---------------------------------------------------------------- linear algebra, convolution

Var matmul(const Var& a, const Var& b, bool trans_a, bool trans_b) {
  Tensor y = kernels::matmul(a.data(), b.data(), trans_a, trans_b);
  auto node = make_node<MatmulBackward>({&a, &b});
  if (node) {
    node->a = SavedVar(a, false);
    node->b = SavedVar(b, false);
    node->trans_a = trans_a;
    node->trans_b = trans_b;
  }
  return finish(y, node);
}

Var linear(const Var& x, const Var& w, const Var& b) {
  ODEGAN_CHECK(x.ndim() == 2 && w.ndim() == 2 && x.shape()[1] == w.shape()[1], "linear: input ",
               x.shape().str(), " does not match weight ", w.shape().str(), " (expected (N, in) and (out, in))");
  Var y = matmul(x, w, false, true);
  return b.defined() ? add(y, b) : y;
}

Var conv2d(const Var& x, const Var& w, const Var& b, const kernels::Conv2dGeometry& g) {
  Tensor y = kernels::conv2d_forward(x.data(), w.data(), g);
  auto node = make_node<ConvBackward>({&x, &w});
  if (node) {
    node->x = SavedVar(x, false);
    node->w = SavedVar(w, false);
    node->geom = g;
  }
  Var out = finish(y, node);
  return b.defined() ? add(out, reshape(b, {1, b.numel(), 1, 1})) : out;
}

Var conv2d_backward_data(const Var& gy, const Var& w, const Shape& x_shape, const kernels::Conv2dGeometry& g) {
  Tensor y = kernels::conv2d_backward_data(gy.data(), w.data(), x_shape, g);
  auto node = make_node<ConvBackwardDataBackward>({&gy, &w});
  if (node) {
    node->gy = SavedVar(gy, false);
    node->w = SavedVar(w, false);
    node->geom = g;
  }
  return finish(y, node);
}

Var conv2d_backward_filter(const Var& x, const Var& gy, const Shape& w_shape, const kernels::Conv2dGeometry& g) {
  Tensor y = kernels::conv2d_backward_filter(x.data(), gy.data(), w_shape, g);
  auto node = make_node<ConvBackwardFilterBackward>({&x, &gy});
  if (node) {
    node->x = SavedVar(x, false);
    node->gy = SavedVar(gy, false);
    node->w_shape = w_shape;
    node->geom = g;
  }
  return finish(y, node);
}

Var conv_transpose2d(const Var& x, const Var& w, const Var& b, const kernels::Conv2dGeometry& g, int output_padding_h,
                     int output_padding_w) {
  Shape out = kernels::conv_transpose2d_output_shape(x.shape(), w.shape(), g, output_padding_h, output_padding_w);
  Var y = conv2d_backward_data(x, w, out, g);
  return b.defined() ? add(y, reshape(b, {1, b.numel(), 1, 1})) : y;
}

// ---------------------------------------------------------------- normalisation

Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor running_mean, Tensor running_var, bool training,
               double momentum, double eps) {
  ODEGAN_CHECK(x.ndim() == 4 || x.ndim() == 2, "batch_norm: input must be (N, C, H, W) or (N, C), got ",
               x.shape().str());
  const int64_t c = x.shape()[1];
  auto param_or = [&](const Var& p, double fill, const char* what) {
    if (p.defined()) {
      ODEGAN_CHECK(p.shape() == Shape{c}, "batch_norm: ", what, " has shape ", p.shape().str(), ", expected [", c,
                   "] for input ", x.shape().str());
      return p.data();
    }
    return Tensor::full({c}, fill, x.dtype(), x.device());
  };
  if (!training) {
    // y = x * scale + shift with constant statistics: plain differentiable arithmetic.
    ODEGAN_CHECK(running_mean.defined() && running_var.defined(),
                 "batch_norm: inference mode needs running statistics");
    Tensor invstd = kernels::unary(Unary::rsqrt, kernels::unary(Unary::affine, running_var, 1.0, eps));
    Var scale = gamma.defined() ? mul(gamma, Var(invstd)) : Var(invstd);
    Var shift = neg(mul(Var(running_mean), scale));
    if (beta.defined()) shift = add(shift, beta);
    Shape cs = channel_shape(x, c);
    return add(mul(x, reshape(scale, cs)), reshape(shift, cs));
  }
  Tensor g = param_or(gamma, 1.0, "gamma"), b = param_or(beta, 0.0, "beta");
  Tensor y = Tensor::empty_like(x.data());
  Tensor save_mean = Tensor::empty({c}, x.dtype(), x.device());
  Tensor save_invstd = Tensor::empty({c}, x.dtype(), x.device());
  kernels::batch_norm_forward_training(x.data(), g, b, eps, momentum, running_mean, running_var, y, save_mean,
                                       save_invstd);
  auto node = make_node<BatchNormBackward>({&x, &gamma, &beta});
  if (node) {
    node->x = SavedVar(x, false);
    node->gamma = SavedVar(gamma.defined() ? gamma : Var(g), false);
    node->mean = save_mean;
    node->invstd = save_invstd;
    node->eps = eps;
  }
  return finish(y, node);
}

Var sync_batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor running_mean, Tensor running_var,
                    bool training, double momentum, double eps, const std::shared_ptr<Communicator>& comm) {
  if (!training || !comm) return batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps);
  ODEGAN_CHECK(x.ndim() == 4 || x.ndim() == 2, "sync_batch_norm: input must be (N, C, H, W) or (N, C), got ",
               x.shape().str());
  const int64_t c = x.shape()[1];
  const std::vector<int> axes = x.ndim() == 4 ? std::vector<int>{0, 2, 3} : std::vector<int>{0};
  // Every rank holds an equal shard: m values per channel in all.
  const double m = static_cast<double>(x.numel() / c) * comm->size();
  const Shape cs = channel_shape(x, c);
  const Var mean = mul(all_reduce_sum(sum(x, axes), comm), 1.0 / m);          // (C)
  const Var xc = sub(x, reshape(mean, cs));
  const Var var = mul(all_reduce_sum(sum(square(xc), axes), comm), 1.0 / m);  // biased, (C)
  Var y = mul(xc, reshape(rsqrt(add(var, eps)), cs));
  if (gamma.defined()) y = mul(y, reshape(gamma, cs));
  if (beta.defined()) y = add(y, reshape(beta, cs));
  if (running_mean.defined()) {
    // running = (1 - momentum) running + momentum batch, with the unbiased global variance.
    kernels::axpby(momentum, mean.data(), 1 - momentum, running_mean);
    if (m > 1) kernels::axpby(momentum * m / (m - 1), var.data(), 1 - momentum, running_var);
  }
  return y;
}

Var all_reduce_sum(const Var& x, const std::shared_ptr<Communicator>& comm) {
  ODEGAN_CHECK(comm != nullptr, "all_reduce_sum: no communicator");
  Tensor y = x.data().clone();
  comm->all_reduce_sum(y);
  auto node = make_node<AllReduceSumBackward>({&x});
  if (node) node->comm = comm;
  return finish(y, node);
}

std::vector<Var> batch_norm_backward(const Var& gy, const Var& x, const Var& gamma, const Tensor& mean,
                                     const Tensor& invstd, double eps) {
  const int64_t c = x.shape()[1];
  Tensor gx = Tensor::empty_like(x.data());
  Tensor gg = Tensor::empty({c}, x.dtype(), x.device());
  Tensor gb = Tensor::empty({c}, x.dtype(), x.device());
  kernels::batch_norm_backward(gy.data(), x.data(), gamma.data(), mean, invstd, gx, gg, gb);
  auto node = make_node<BatchNormBackwardBackward>({&gy, &x, &gamma});
  if (!node) return {Var(gx), Var(gg), Var(gb)};
  node->gy = SavedVar(gy, false);
  node->x = SavedVar(x, false);
  node->gamma = SavedVar(gamma, false);
  node->eps = eps;
  return {make_output(gx, node, 0), make_output(gg, node, 1), make_output(gb, node, 2)};
}

// ---------------------------------------------------------------- pooling, resampling, embeddings

Var avg_pool2d(const Var& x, const kernels::Pool2dGeometry& g) {
  Tensor y = Tensor::empty(kernels::pool2d_output_shape(x.shape(), g), x.dtype(), x.device());
  kernels::avg_pool2d_forward(x.data(), y, g);
  auto node = make_node<AvgPoolBackward>({&x});
  if (node) node->x_shape = x.shape(), node->geom = g;
  return finish(y, node);
}

Var avg_pool2d_backward(const Var& gy, const Shape& x_shape, const kernels::Pool2dGeometry& g) {
  Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.device());
  kernels::avg_pool2d_backward(gy.data(), gx, g);
  auto node = make_node<AvgPoolBackwardBackward>({&gy});
  if (node) node->geom = g;
  return finish(gx, node);
}

Var max_pool2d(const Var& x, const kernels::Pool2dGeometry& g) {
  Shape ys = kernels::pool2d_output_shape(x.shape(), g);
  Tensor y = Tensor::empty(ys, x.dtype(), x.device());
  Tensor idx = Tensor::empty(ys, DType::i32, x.device());
  kernels::max_pool2d_forward(x.data(), y, idx, g);
  auto node = make_node<MaxPoolBackward>({&x});
  if (node) node->indices = idx, node->x_shape = x.shape(), node->geom = g;
  return finish(y, node);
}

Var max_pool2d_backward(const Var& gy, const Tensor& indices, const Shape& x_shape,
                        const kernels::Pool2dGeometry& g) {
  Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.device());
  kernels::max_pool2d_backward(gy.data(), indices, gx, g);
  auto node = make_node<MaxPoolBackwardBackward>({&gy});
  if (node) node->indices = indices, node->y_shape = gy.shape(), node->geom = g;
  return finish(gx, node);
}

Var max_pool2d_gather(const Var& x, const Tensor& indices, const Shape& y_shape, const kernels::Pool2dGeometry& g) {
  Tensor y = Tensor::empty(y_shape, x.dtype(), x.device());
  kernels::max_pool2d_gather(x.data(), indices, y);
  auto node = make_node<MaxPoolGatherBackward>({&x});
  if (node) node->indices = indices, node->x_shape = x.shape(), node->geom = g;
  return finish(y, node);
}

Var upsample_nearest2x(const Var& x) {
  ODEGAN_CHECK(x.ndim() == 4, "upsample_nearest2x: input must be (N, C, H, W), got ", x.shape().str());
  const Shape& s = x.shape();
  Tensor y = Tensor::empty({s[0], s[1], 2 * s[2], 2 * s[3]}, x.dtype(), x.device());
  kernels::upsample_nearest2x(x.data(), y);
  return finish(y, make_node<UpsampleBackward>({&x}));
}

Var upsample_nearest2x_backward(const Var& gy) {
  const Shape& s = gy.shape();
  ODEGAN_CHECK(gy.ndim() == 4 && s[2] % 2 == 0 && s[3] % 2 == 0,
               "upsample_nearest2x_backward: gradient must be (N, C, 2H, 2W), got ", s.str());
  Tensor gx = Tensor::empty({s[0], s[1], s[2] / 2, s[3] / 2}, gy.dtype(), gy.device());
  kernels::upsample_nearest2x_backward(gy.data(), gx);
  return finish(gx, make_node<UpsampleBackwardBackward>({&gy}));
}

Var resize_bilinear(const Var& x, int64_t out_h, int64_t out_w) {
  ODEGAN_CHECK(x.ndim() == 4 && out_h > 0 && out_w > 0, "resize_bilinear: cannot resample ", x.shape().str(),
               " to ", out_h, "x", out_w, " (need (N, C, H, W) and a positive size)");
  const Shape& s = x.shape();
  Tensor y = Tensor::empty({s[0], s[1], out_h, out_w}, x.dtype(), x.device());
  kernels::resize_bilinear(x.data(), y);
  auto node = make_node<ResizeBilinearBackward>({&x});
  if (node) node->x_shape = s;
  return finish(y, node);
}

Var resize_bilinear_backward(const Var& gy, const Shape& x_shape) {
  Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.device());
  kernels::resize_bilinear_backward(gy.data(), gx);
  auto node = make_node<ResizeBilinearBackwardBackward>({&gy});
  if (node) node->out_h = gy.shape()[2], node->out_w = gy.shape()[3];
  return finish(gx, node);
}

Var embedding(const Var& table, const Tensor& indices) {
  Tensor y = kernels::embedding_gather(table.data(), indices);
  auto node = make_node<EmbeddingBackward>({&table});
  if (node) node->indices = indices, node->num_rows = table.shape()[0];
  return finish(y, node);
}

Var embedding_backward(const Var& gy, const Tensor& indices, int64_t num_rows) {
  Tensor g = kernels::embedding_scatter_add(gy.data(), indices, num_rows);
  auto node = make_node<EmbeddingBackwardBackward>({&gy});
  if (node) node->indices = indices;
  return finish(g, node);
}

// ---------------------------------------------------------------- losses

Var bce_with_logits(const Var& logits, double label) {
  ODEGAN_CHECK(label >= 0.0 && label <= 1.0, "bce_with_logits: label ", label, " outside [0, 1]");
  // -[l log s(x) + (1 - l) log(1 - s(x))] = l softplus(-x) + (1 - l) softplus(x)
  if (label == 1.0) return mean(softplus(neg(logits)));
  if (label == 0.0) return mean(softplus(logits));
  return add(mul(mean(softplus(neg(logits))), label), mul(mean(softplus(logits)), 1.0 - label));
}

Var softmax_cross_entropy(const Var& logits, int target_class) {
  ODEGAN_CHECK(logits.ndim() == 2, "softmax_cross_entropy: logits must be (N, K), got ", logits.shape().str());
  const int64_t k = logits.shape()[1];
  ODEGAN_CHECK(target_class >= 0 && target_class < k, "softmax_cross_entropy: class ", target_class,
               " out of range for ", k, " logits");
  // log-sum-exp shifted by the (constant) row maximum for stability.
  Var m(kernels::max(logits.data(), {1}, true));
  Var lse = add(log(sum(exp(sub(logits, m)), {1}, true)), m);
  Var picked = slice(logits, 1, target_class, target_class + 1);
  return mean(sub(lse, picked));
}

}  // namespace odegan::ad
