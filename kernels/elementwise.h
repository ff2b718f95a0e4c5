// Elementwise kernels: unary maps, binary maps with NumPy broadcasting, and the fused
// linear combinations the ODE solvers run over flat parameter buffers.
// Every function runs on the tensor's device (CPU or CUDA); operands must share
// device and dtype. Output tensors may alias an input of the same shape.
#pragma once
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace odegan::kernels {

// The elementwise ops, listed once as X(name, formula). The enums, the names, the count,
// both backends' dispatch switches (kernels/cpu/elementwise.cpp, kernels/cuda/elementwise.cu)
// and the tests' check that every op has a reference row are generated from these lists;
// each op's arithmetic is written once, in kernels/elementwise_ops.h.
#define ODEGAN_UNARY_OPS(X)                                           \
  X(neg, "-x")                                                        \
  X(exp, "e^x")                                                       \
  X(log, "ln x")                                                      \
  X(sqrt, "sqrt x")                                                   \
  X(rsqrt, "1 / sqrt x")                                              \
  X(abs, "|x|")                                                       \
  X(square, "x^2")                                                    \
  X(reciprocal, "1 / x")                                              \
  X(relu, "max(x, 0)")                                                \
  X(leaky_relu, "x > 0 ? x : a * x")                                  \
  X(tanh, "tanh x")                                                   \
  X(sigmoid, "1 / (1 + e^-x), stable for large |x|")                  \
  X(softplus, "ln(1 + e^x), stable: max(x, 0) + log1p(e^-|x|)")       \
  X(log_sigmoid, "-softplus(-x)")                                     \
  X(silu, "x * sigmoid(x) (also called swish)")                       \
  X(step, "x > 0 ? 1 : 0 (the derivative mask of relu)")              \
  X(leaky_step, "x > 0 ? 1 : a (the derivative mask of leaky_relu)")  \
  X(sign, "-1, 0, 1")                                                 \
  X(affine, "a * x + b")                                              \
  X(pow, "x^a")

#define ODEGAN_ELEMENTWISE_ENUM(name, formula) name,
#define ODEGAN_ELEMENTWISE_COUNT(name, formula) +1
enum class Unary : unsigned char { ODEGAN_UNARY_OPS(ODEGAN_ELEMENTWISE_ENUM) };
constexpr int kNumUnary = 0 ODEGAN_UNARY_OPS(ODEGAN_ELEMENTWISE_COUNT);
const char* unary_name(Unary op);
const char* unary_formula(Unary op);  // "x * sigmoid(x)"

void unary(Unary op, const Tensor& x, Tensor& out, double a = 0.0, double b = 0.0);
Tensor unary(Unary op, const Tensor& x, double a = 0.0, double b = 0.0);

#define ODEGAN_BINARY_OPS(X)                                                 \
  X(add, "x + y")                                                            \
  X(sub, "x - y")                                                            \
  X(mul, "x * y")                                                            \
  X(div, "x / y")                                                            \
  X(maximum, "max(x, y)")                                                    \
  X(minimum, "min(x, y)")                                                    \
  X(relu_backward, "x * (y > 0); x = upstream gradient, y = relu input")     \
  X(leaky_relu_backward, "x * (y > 0 ? 1 : a); y = leaky_relu input")        \
  X(tanh_backward, "x * (1 - y^2); y = tanh output")                         \
  X(sigmoid_backward, "x * y * (1 - y); y = sigmoid output")                 \
  X(silu_backward, "x * s (1 + y (1 - s)); y = silu input, s = sigmoid(y)")

enum class Binary : unsigned char { ODEGAN_BINARY_OPS(ODEGAN_ELEMENTWISE_ENUM) };
constexpr int kNumBinary = 0 ODEGAN_BINARY_OPS(ODEGAN_ELEMENTWISE_COUNT);
const char* binary_name(Binary op);
const char* binary_formula(Binary op);

// out has the broadcast shape of x and y (NumPy rules); throws naming both shapes.
void binary(Binary op, const Tensor& x, const Tensor& y, Tensor& out, double a = 0.0);
Tensor binary(Binary op, const Tensor& x, const Tensor& y, double a = 0.0);

// y = a * x + b * y over all elements (x, y: same numel).
void axpby(double a, const Tensor& x, double b, Tensor& y);

// out = c0 * x0 + sum_i c_i * k_i over all elements, one pass (one launch) for up to
// four terms; more terms are folded in further passes. out may alias x0 or any k_i.
void lincomb(Tensor& out, double c0, const Tensor& x0, const std::vector<std::pair<double, Tensor>>& terms);

}  // namespace odegan::kernels
