#include "kernels/norm.h"

#include "kernels/cpu/norm.h"
#include "kernels/dispatch.h"
#include "kernels/norm_dims.h"
#ifdef ODEGAN_WITH_CUDA
#include "kernels/cuda/norm.h"
#endif

namespace odegan::kernels {

namespace {
// NCHW as [N][C][HW]; (N, C) as [N][C][1].
NormDims norm_dims(const Tensor& x, const char* op) {
  ODEGAN_CHECK(x.ndim() == 4 || x.ndim() == 2, op, ": input must be (N, C, H, W) or (N, C), got ", x.shape().str());
  NormDims d;
  d.n = x.shape()[0];
  d.c = x.shape()[1];
  d.hw = x.ndim() == 4 ? x.shape()[2] * x.shape()[3] : 1;
  ODEGAN_CHECK(d.n * d.hw > 0, op, ": no elements per channel in ", x.shape().str());
  return d;
}

void check_channel_vector(const Tensor& x, const Tensor& v, int64_t c, const char* op, const char* what) {
  check_defined(v, op, what);
  check_compatible(x, v, op);
  ODEGAN_CHECK(v.shape() == Shape{c}, op, ": ", what, " must have shape [", c, "] for input ", x.shape().str(),
               ", got ", v.shape().str());
}
}  // namespace

void batch_norm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, double momentum,
                                 Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                                 Tensor& save_invstd) {
  const char* op = "batch_norm";
  check_defined(x, op, "input");
  ODEGAN_CHECK(is_floating(x.dtype()), op, ": needs a float tensor, got ", describe(x));
  NormDims d = norm_dims(x, op);
  check_channel_vector(x, gamma, d.c, op, "gamma");
  check_channel_vector(x, beta, d.c, op, "beta");
  check_channel_vector(x, save_mean, d.c, op, "save_mean");
  check_channel_vector(x, save_invstd, d.c, op, "save_invstd");
  check_compatible(x, y, op);
  check_same_shape(x, y, op);
  ODEGAN_CHECK(running_mean.defined() == running_var.defined(), op, ": running mean and variance go together");
  if (running_mean.defined()) {
    check_channel_vector(x, running_mean, d.c, op, "running_mean");
    check_channel_vector(x, running_var, d.c, op, "running_var");
  }
  ODEGAN_CHECK(eps > 0 && momentum >= 0 && momentum <= 1, op, ": bad eps ", eps, " or momentum ", momentum);
  ODEGAN_DISPATCH_DEVICE(x.device(), op,
                         batch_norm_forward_training(x, gamma, beta, eps, momentum, running_mean, running_var, y,
                                                     save_mean, save_invstd, d));
}

void batch_norm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                  const Tensor& running_var, double eps, Tensor& y) {
  const char* op = "batch_norm (inference)";
  check_defined(x, op, "input");
  NormDims d = norm_dims(x, op);
  check_channel_vector(x, gamma, d.c, op, "gamma");
  check_channel_vector(x, beta, d.c, op, "beta");
  check_channel_vector(x, running_mean, d.c, op, "running_mean");
  check_channel_vector(x, running_var, d.c, op, "running_var");
  check_compatible(x, y, op);
  check_same_shape(x, y, op);
  ODEGAN_DISPATCH_DEVICE(x.device(), op,
                         batch_norm_forward_inference(x, gamma, beta, running_mean, running_var, eps, y, d));
}

void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, Tensor& gx, Tensor& ggamma, Tensor& gbeta) {
  const char* op = "batch_norm_backward";
  check_defined(x, op, "input");
  NormDims d = norm_dims(x, op);
  check_compatible(x, gy, op);
  check_same_shape(x, gy, op);
  check_channel_vector(x, gamma, d.c, op, "gamma");
  check_channel_vector(x, save_mean, d.c, op, "save_mean");
  check_channel_vector(x, save_invstd, d.c, op, "save_invstd");
  if (gx.defined()) {
    check_compatible(x, gx, op);
    check_same_shape(x, gx, op);
  }
  if (ggamma.defined()) check_channel_vector(x, ggamma, d.c, op, "ggamma");
  if (gbeta.defined()) check_channel_vector(x, gbeta, d.c, op, "gbeta");
  ODEGAN_DISPATCH_DEVICE(x.device(), op, batch_norm_backward(gy, x, gamma, save_mean, save_invstd, gx, ggamma, gbeta, d));
}

}  // namespace odegan::kernels
