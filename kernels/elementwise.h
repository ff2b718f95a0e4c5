// Elementwise kernels: unary maps, binary maps with NumPy broadcasting, and the fused
// linear combinations the ODE solvers run over flat parameter buffers.
// Every function runs on the tensor's device (CPU or CUDA); operands must share
// device and dtype. Output tensors may alias an input of the same shape.
#pragma once
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace odegan::kernels {

enum class Unary : unsigned char {
  neg,         // -x
  exp,         // e^x
  log,         // ln x
  sqrt,        // sqrt x
  rsqrt,       // 1 / sqrt x
  abs,         // |x|
  square,      // x^2
  reciprocal,  // 1 / x
  relu,        // max(x, 0)
  leaky_relu,  // x > 0 ? x : a * x
  tanh,        // tanh x
  sigmoid,     // 1 / (1 + e^-x), stable for large |x|
  softplus,    // ln(1 + e^x), stable: max(x, 0) + log1p(e^-|x|)
  log_sigmoid, // -softplus(-x)
  silu,        // x * sigmoid(x) (also called swish)
  step,        // x > 0 ? 1 : 0 (the derivative mask of relu)
  leaky_step,  // x > 0 ? 1 : a (the derivative mask of leaky_relu)
  sign,        // -1, 0, 1
  affine,      // a * x + b
  pow,         // x^a
};
const char* unary_name(Unary op);

void unary(Unary op, const Tensor& x, Tensor& out, double a = 0.0, double b = 0.0);
Tensor unary(Unary op, const Tensor& x, double a = 0.0, double b = 0.0);

enum class Binary : unsigned char {
  add,                  // x + y
  sub,                  // x - y
  mul,                  // x * y
  div,                  // x / y
  maximum,              // max(x, y)
  minimum,              // min(x, y)
  relu_backward,        // x * (y > 0)            x = upstream gradient, y = relu input
  leaky_relu_backward,  // x * (y > 0 ? 1 : a)    y = leaky_relu input
  tanh_backward,        // x * (1 - y^2)          y = tanh output
  sigmoid_backward,     // x * y * (1 - y)        y = sigmoid output
  silu_backward,        // x * s (1 + y (1 - s))  y = silu input, s = sigmoid(y)
};
const char* binary_name(Binary op);

// out has the broadcast shape of x and y (NumPy rules); throws naming both shapes.
void binary(Binary op, const Tensor& x, const Tensor& y, Tensor& out, double a = 0.0);
Tensor binary(Binary op, const Tensor& x, const Tensor& y, double a = 0.0);

// y = a * x + b * y over all elements (x, y: same numel).
void axpby(double a, const Tensor& x, double b, Tensor& y);

// out = c0 * x0 + sum_i c_i * k_i over all elements, one pass (one launch) for up to
// four terms; more terms are folded in further passes. out may alias x0 or any k_i.
void lincomb(Tensor& out, double c0, const Tensor& x0, const std::vector<std::pair<double, Tensor>>& terms);

}  // namespace odegan::kernels
