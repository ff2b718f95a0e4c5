#include "kernels/matmul.h"

#include "kernels/cpu/matmul.h"
#include "kernels/dispatch.h"
#ifdef ODEGAN_WITH_CUDA
#include "kernels/cuda/matmul.h"
#endif

namespace odegan::kernels {

void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha, double beta) {
  check_compatible(a, b, "matmul");
  check_compatible(a, c, "matmul");
  ODEGAN_CHECK(is_floating(a.dtype()), "matmul: needs float tensors, got ", describe(a));
  ODEGAN_CHECK(a.ndim() == 2 && b.ndim() == 2 && c.ndim() == 2, "matmul: operands must be 2-D, got ",
               a.shape().str(), ", ", b.shape().str(), " -> ", c.shape().str());
  const int64_t m = trans_a ? a.shape()[1] : a.shape()[0];
  const int64_t k = trans_a ? a.shape()[0] : a.shape()[1];
  const int64_t kb = trans_b ? b.shape()[1] : b.shape()[0];
  const int64_t n = trans_b ? b.shape()[0] : b.shape()[1];
  ODEGAN_CHECK(k == kb, "matmul: inner dimensions differ: ", a.shape().str(), (trans_a ? "^T" : ""), " x ",
               b.shape().str(), (trans_b ? "^T" : ""));
  ODEGAN_CHECK(c.shape() == Shape({m, n}), "matmul: output ", c.shape().str(), " but ", a.shape().str(),
               (trans_a ? "^T" : ""), " x ", b.shape().str(), (trans_b ? "^T" : ""), " is [", m, ", ", n, "]");
  profile::add_flops("matmul", 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k));
  ODEGAN_DISPATCH_DEVICE(a.device(), "matmul", gemm(a, trans_a, b, trans_b, c, alpha, beta, m, n, k));
}

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_compatible(a, b, "matmul");
  ODEGAN_CHECK(a.ndim() == 2 && b.ndim() == 2, "matmul: operands must be 2-D, got ", a.shape().str(), " and ",
               b.shape().str());
  const int64_t m = trans_a ? a.shape()[1] : a.shape()[0];
  const int64_t n = trans_b ? b.shape()[0] : b.shape()[1];
  Tensor c = Tensor::empty({m, n}, a.dtype(), a.device());
  gemm(a, trans_a, b, trans_b, c, 1.0, 0.0);
  return c;
}

}  // namespace odegan::kernels
