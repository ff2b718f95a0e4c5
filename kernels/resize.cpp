#include "kernels/resize.h"

#include "kernels/cpu/resize.h"
#include "kernels/dispatch.h"
#ifdef ODEGAN_WITH_CUDA
#include "kernels/cuda/resize.h"
#endif

namespace odegan::kernels {

namespace {
// x: the image side (N, C, H, W); y: the resampled side (N, C, OH, OW).
PoolDims check_resize(const Tensor& x, const Tensor& y, const char* op) {
  check_compatible(x, y, op);
  ODEGAN_CHECK(is_floating(x.dtype()), op, ": needs float tensors, got ", describe(x));
  ODEGAN_CHECK(x.ndim() == 4 && y.ndim() == 4 && x.shape()[0] == y.shape()[0] && x.shape()[1] == y.shape()[1], op,
               ": images ", x.shape().str(), " and resampled ", y.shape().str(),
               " must both be (N, C, H, W) with the same N and C");
  ODEGAN_CHECK(x.numel() > 0 || y.numel() == 0, op, ": cannot resample the empty image ", x.shape().str(), " to ",
               y.shape().str());
  return {x.shape()[0] * x.shape()[1], x.shape()[2], x.shape()[3], y.shape()[2], y.shape()[3]};
}
}  // namespace

void resize_bilinear(const Tensor& x, Tensor& y) {
  const PoolDims d = check_resize(x, y, "resize_bilinear");
  ODEGAN_DISPATCH_DEVICE(x.device(), "resize_bilinear", resize_bilinear(x, y, d));
}

void resize_bilinear_backward(const Tensor& gy, Tensor& gx) {
  const PoolDims d = check_resize(gx, gy, "resize_bilinear_backward");
  ODEGAN_DISPATCH_DEVICE(gy.device(), "resize_bilinear_backward", resize_bilinear_backward(gy, gx, d));
}

}  // namespace odegan::kernels
