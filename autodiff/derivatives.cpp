// Every derivative rule in one place. Each rule receives the gradients of its function's
// outputs (`g`) and returns those of its inputs, written with differentiable functions,
// so running it under create_graph records a graph that can be differentiated again.
// `need(i)` is false for inputs whose gradient nobody asked for: skip their work;
// `unpack(s)` gives back a saved Var (both are Node members).
#include "autodiff/engine.h"
#include "autodiff/functions.h"
#include "autodiff/nodes.h"
#include "kernels/elementwise.h"

namespace odegan::ad {

// RULE(MulBackward) { ... } defines MulBackward::apply(g).
#define RULE(NODE) std::vector<Var> NODE::apply(std::vector<Var>&& g)

// ---------------------------------------------------------------- elementwise
RULE(AddBackward) { return {need(0) ? sum_to(g[0], a_shape) : Var(), need(1) ? sum_to(g[0], b_shape) : Var()}; }
RULE(SubBackward) { return {need(0) ? sum_to(g[0], a_shape) : Var(), need(1) ? neg(sum_to(g[0], b_shape)) : Var()}; }
RULE(MulBackward) {
  Var x = unpack(a), y = unpack(b);
  return {need(0) ? sum_to(mul(g[0], y), x.shape()) : Var(), need(1) ? sum_to(mul(g[0], x), y.shape()) : Var()};
}
RULE(DivBackward) {
  Var x = unpack(a), y = unpack(b);
  return {need(0) ? sum_to(div(g[0], y), x.shape()) : Var(),
          need(1) ? sum_to(neg(div(mul(g[0], x), square(y))), y.shape()) : Var()};
}
RULE(AffineBackward) { return {mul(g[0], a)}; }
RULE(NegBackward) { return {neg(g[0])}; }
RULE(ExpBackward) { return {mul(g[0], unpack(y))}; }
RULE(LogBackward) { return {div(g[0], unpack(x))}; }
RULE(SqrtBackward) { return {div(g[0], mul(unpack(y), 2.0))}; }                    // 1 / (2 sqrt x)
RULE(RsqrtBackward) { Var r = unpack(y); return {mul(g[0], mul(mul(r, square(r)), -0.5))}; }  // -x^-3/2 / 2
RULE(SquareBackward) { return {mul(g[0], mul(unpack(x), 2.0))}; }
RULE(AbsBackward) { return {mul(g[0], Var(kernels::unary(kernels::Unary::sign, unpack(x).data())))}; }
RULE(PowBackward) { return {mul(g[0], mul(pow(unpack(x), p - 1.0), p))}; }
RULE(ReluBackward) { return {relu_backward(g[0], unpack(x))}; }
RULE(LeakyReluBackward) { return {leaky_relu_backward(g[0], unpack(x), slope)}; }
RULE(TanhBackward) { return {tanh_backward(g[0], unpack(y))}; }
RULE(SigmoidBackward) { return {sigmoid_backward(g[0], unpack(y))}; }
RULE(SoftplusBackward) { return {mul(g[0], sigmoid(unpack(x)))}; }
RULE(SiluBackward) { return {silu_backward(g[0], unpack(x))}; }

// The fused activation backwards are linear in the incoming gradient; relu's mask is
// piecewise constant in x (zero derivative almost everywhere).
RULE(ReluBackwardBackward) { return {need(0) ? relu_backward(g[0], unpack(x)) : Var(), Var()}; }
RULE(LeakyReluBackwardBackward) { return {need(0) ? leaky_relu_backward(g[0], unpack(x), slope) : Var(), Var()}; }
RULE(TanhBackwardBackward) {  // f(grad, y) = grad (1 - y^2)
  Var y_ = unpack(y);
  return {need(0) ? tanh_backward(g[0], y_) : Var(), need(1) ? mul(mul(g[0], unpack(grad)), mul(y_, -2.0)) : Var()};
}
RULE(SigmoidBackwardBackward) {  // f(grad, y) = grad y (1 - y)
  Var y_ = unpack(y);
  return {need(0) ? sigmoid_backward(g[0], y_) : Var(),
          need(1) ? mul(mul(g[0], unpack(grad)), affine(y_, -2.0, 1.0)) : Var()};
}

RULE(SiluBackwardBackward) {  // f(grad, x) = grad d(x), d = s (1 + x (1 - s)), d' = s (1 - s) (2 + x (1 - 2 s))
  Var x_ = unpack(x);
  Var dd;
  if (need(1)) {
    Var s = sigmoid(x_);
    dd = mul(mul(s, affine(s, -1.0, 1.0)), add(mul(x_, affine(s, -2.0, 1.0)), 2.0));
  }
  return {need(0) ? silu_backward(g[0], x_) : Var(), need(1) ? mul(mul(g[0], unpack(grad)), dd) : Var()};
}

// ---------------------------------------------------------------- reductions and shape
RULE(SumBackward) {
  Var b = broadcast_to(reshape(g[0], keep_shape), in_shape);
  return {scale == 1.0 ? b : mul(b, scale)};
}
RULE(BroadcastToBackward) { return {sum_to(g[0], in_shape)}; }
RULE(SumToBackward) { return {broadcast_to(g[0], in_shape)}; }
RULE(ReshapeBackward) { return {reshape(g[0], in_shape)}; }
RULE(ConcatBackward) {
  std::vector<Var> out;
  int64_t at = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    out.push_back(need(i) ? slice(g[0], axis, at, at + sizes[i]) : Var());
    at += sizes[i];
  }
  return out;
}
RULE(SliceBackward) { return {slice_backward(g[0], axis, begin, in_shape)}; }
RULE(SliceBackwardBackward) { return {slice(g[0], axis, begin, end)}; }
RULE(TransposeBackward) { return {transpose(g[0])}; }

// ---------------------------------------------------------------- linear algebra, convolution
// C = op(A) op(B):  dA = g op(B)^T (A^T: op(B) g^T),  dB = op(A)^T g (B^T: g^T op(A)).
RULE(MatmulBackward) {
  Var a_ = unpack(a), b_ = unpack(b);
  Var ga, gb;
  if (need(0)) ga = trans_a ? matmul(b_, g[0], trans_b, true) : matmul(g[0], b_, false, !trans_b);
  if (need(1)) gb = trans_b ? matmul(g[0], a_, true, trans_a) : matmul(a_, g[0], !trans_a, false);
  return {ga, gb};
}
RULE(ConvBackward) {
  Var x_ = unpack(x), w_ = unpack(w);
  return {need(0) ? conv2d_backward_data(g[0], w_, x_.shape(), geom) : Var(),
          need(1) ? conv2d_backward_filter(x_, g[0], w_.shape(), geom) : Var()};
}
// Both halves of a convolution's backward are bilinear: their derivatives are the other
// convolution operations.   <gg, bwd_data(gy, w)> = <conv(gg, w), gy> = <w, bwd_filter(gg, gy)>
RULE(ConvBackwardDataBackward) {
  Var gy_ = unpack(gy), w_ = unpack(w);
  return {need(0) ? conv2d(g[0], w_, Var(), geom) : Var(),
          need(1) ? conv2d_backward_filter(g[0], gy_, w_.shape(), geom) : Var()};
}
//   <gg, bwd_filter(x, gy)> = <conv(x, gg), gy> = <x, bwd_data(gy, gg)>
RULE(ConvBackwardFilterBackward) {
  Var x_ = unpack(x), gy_ = unpack(gy);
  return {need(0) ? conv2d_backward_data(gy_, g[0], x_.shape(), geom) : Var(),
          need(1) ? conv2d(x_, g[0], Var(), geom) : Var()};
}

// ---------------------------------------------------------------- normalisation
RULE(BatchNormBackward) {
  std::vector<Var> r = batch_norm_backward(g[0], unpack(x), unpack(gamma), mean, invstd, eps);
  return {need(0) ? r[0] : Var(), need(1) ? r[1] : Var(), need(2) ? r[2] : Var()};
}
// The fused batch-norm backward is differentiated through its decomposition into
// primitives (recomputed here, on the same inputs), so its own derivative needs no
// hand-written formula:
//   xhat = (x - mean) invstd,  gx = gamma invstd (gy - mean(gy) - xhat mean(gy xhat)),
//   ggamma = sum(gy xhat),     gbeta = sum(gy)         (means and sums per channel)
RULE(BatchNormBackwardBackward) {
  Var gy_ = unpack(gy), x_ = unpack(x), gamma_ = unpack(gamma);
  const bool record = grad_enabled();
  std::vector<Var> outs;
  {
    GradModeGuard on(true);
    const int64_t c = x_.shape()[1];
    std::vector<int> axes = x_.ndim() == 4 ? std::vector<int>{0, 2, 3} : std::vector<int>{0};
    Shape cs = x_.ndim() == 4 ? Shape{1, c, 1, 1} : Shape{1, c};
    const double m = static_cast<double>(x_.numel() / c);
    Var mu = mean(x_, axes, true);
    Var xc = sub(x_, mu);
    Var invstd_ = rsqrt(add(mean(square(xc), axes, true), eps));
    Var xhat = mul(xc, invstd_);
    Var gbeta = sum(gy_, axes, true);
    Var ggamma = sum(mul(gy_, xhat), axes, true);
    Var inner = sub(sub(gy_, mul(gbeta, 1.0 / m)), mul(xhat, mul(ggamma, 1.0 / m)));
    Var gx = mul(mul(reshape(gamma_, cs), invstd_), inner);
    outs = {gx, reshape(ggamma, {c}), reshape(gbeta, {c})};
  }
  std::vector<Var> inputs;
  std::vector<int> where;
  Var all[3] = {gy_, x_, gamma_};
  for (int i = 0; i < 3; ++i)
    if (need(i) && all[i].requires_grad()) inputs.push_back(all[i]), where.push_back(i);
  std::vector<Var> r = partial_vjp(outs, inputs, g, record);
  std::vector<Var> result(3);
  for (size_t k = 0; k < where.size(); ++k) result[where[k]] = r[k];
  return result;
}

// ---------------------------------------------------------------- pooling, resampling, embeddings
RULE(AvgPoolBackward) { return {avg_pool2d_backward(g[0], x_shape, geom)}; }
RULE(AvgPoolBackwardBackward) { return {avg_pool2d(g[0], geom)}; }
RULE(MaxPoolBackward) { return {max_pool2d_backward(g[0], indices, x_shape, geom)}; }
RULE(MaxPoolBackwardBackward) { return {max_pool2d_gather(g[0], indices, y_shape, geom)}; }
RULE(MaxPoolGatherBackward) { return {max_pool2d_backward(g[0], indices, x_shape, geom)}; }
RULE(UpsampleBackward) { return {upsample_nearest2x_backward(g[0])}; }
RULE(UpsampleBackwardBackward) { return {upsample_nearest2x(g[0])}; }
RULE(ResizeBilinearBackward) { return {resize_bilinear_backward(g[0], x_shape)}; }
RULE(ResizeBilinearBackwardBackward) { return {resize_bilinear(g[0], out_h, out_w)}; }
RULE(EmbeddingBackward) { return {embedding_backward(g[0], indices, num_rows)}; }
RULE(EmbeddingBackwardBackward) { return {embedding(g[0], indices)}; }

// ---------------------------------------------------------------- collectives
RULE(AllReduceSumBackward) { return {all_reduce_sum(g[0], comm)}; }

#undef RULE

}  // namespace odegan::ad
