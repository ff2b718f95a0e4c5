#include "kernels/pool.h"

#include "kernels/cpu/pool.h"
#include "kernels/dispatch.h"
#include "kernels/pool_ops.h"
#ifdef ODEGAN_WITH_CUDA
#include "kernels/cuda/pool.h"
#endif

namespace odegan::kernels {

Shape pool2d_output_shape(const Shape& x, const Pool2dGeometry& g) {
  ODEGAN_CHECK(x.ndim() == 4, "pool2d: input must be (N, C, H, W), got ", x.str());
  ODEGAN_CHECK(g.kernel_h > 0 && g.kernel_w > 0 && g.stride_h > 0 && g.stride_w > 0 && g.pad_h >= 0 && g.pad_w >= 0 &&
                   g.pad_h < g.kernel_h && g.pad_w < g.kernel_w,
               "pool2d: bad geometry (kernel ", g.kernel_h, "x", g.kernel_w, ", stride ", g.stride_h, "x", g.stride_w,
               ", padding ", g.pad_h, "x", g.pad_w, "; padding must be smaller than the kernel)");
  const int64_t p = (x[2] + 2 * g.pad_h - g.kernel_h) / g.stride_h + 1;
  const int64_t q = (x[3] + 2 * g.pad_w - g.kernel_w) / g.stride_w + 1;
  ODEGAN_CHECK(x[2] + 2 * g.pad_h >= g.kernel_h && x[3] + 2 * g.pad_w >= g.kernel_w && p > 0 && q > 0,
               "pool2d: input ", x.str(), " is smaller than the ", g.kernel_h, "x", g.kernel_w, " window");
  return {x[0], x[1], p, q};
}

namespace {
PoolDims pool_dims(const Shape& x, const Shape& y) { return {x[0] * x[1], x[2], x[3], y[2], y[3]}; }

void check_pool(const Tensor& x, const Tensor& y, const Pool2dGeometry& g, const char* op) {
  check_compatible(x, y, op);
  ODEGAN_CHECK(is_floating(x.dtype()), op, ": needs float tensors, got ", describe(x));
  Shape s = pool2d_output_shape(x.shape(), g);
  ODEGAN_CHECK(y.shape() == s, op, ": pooled shape ", y.shape().str(), " but input ", x.shape().str(), " gives ",
               s.str());
}

void check_indices(const Tensor& y, const Tensor& idx, const char* op) {
  check_defined(idx, op, "indices");
  check_same_device(y, idx, op);
  ODEGAN_CHECK(idx.dtype() == DType::i32 && idx.shape() == y.shape(), op, ": indices must be int32 of shape ",
               y.shape().str(), ", got ", describe(idx));
}
}  // namespace

void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g) {
  check_pool(x, y, g, "avg_pool2d");
  ODEGAN_DISPATCH_DEVICE(x.device(), "avg_pool2d", avg_pool2d_forward(x, y, g, pool_dims(x.shape(), y.shape())));
}

void avg_pool2d_backward(const Tensor& gy, Tensor& gx, const Pool2dGeometry& g) {
  check_pool(gx, gy, g, "avg_pool2d_backward");
  ODEGAN_DISPATCH_DEVICE(gy.device(), "avg_pool2d_backward",
                         avg_pool2d_backward(gy, gx, g, pool_dims(gx.shape(), gy.shape())));
}

void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g) {
  check_pool(x, y, g, "max_pool2d");
  check_indices(y, indices, "max_pool2d");
  ODEGAN_DISPATCH_DEVICE(x.device(), "max_pool2d", max_pool2d_forward(x, y, indices, g, pool_dims(x.shape(), y.shape())));
}

void max_pool2d_backward(const Tensor& gy, const Tensor& indices, Tensor& gx, const Pool2dGeometry& g) {
  check_compatible(gy, gx, "max_pool2d_backward");
  check_indices(gy, indices, "max_pool2d_backward");
  ODEGAN_CHECK(gx.ndim() == 4 && gy.ndim() == 4 && gx.shape()[0] == gy.shape()[0] && gx.shape()[1] == gy.shape()[1],
               "max_pool2d_backward: gradient ", gy.shape().str(), " does not match input ", gx.shape().str());
  ODEGAN_DISPATCH_DEVICE(gy.device(), "max_pool2d_backward",
                         max_pool2d_backward(gy, indices, gx, g, pool_dims(gx.shape(), gy.shape())));
}

void max_pool2d_gather(const Tensor& x, const Tensor& indices, Tensor& y) {
  check_compatible(x, y, "max_pool2d_gather");
  check_indices(y, indices, "max_pool2d_gather");
  ODEGAN_CHECK(x.ndim() == 4 && y.ndim() == 4 && x.shape()[0] == y.shape()[0] && x.shape()[1] == y.shape()[1],
               "max_pool2d_gather: ", x.shape().str(), " does not match ", y.shape().str());
  ODEGAN_DISPATCH_DEVICE(x.device(), "max_pool2d_gather",
                         max_pool2d_gather(x, indices, y, pool_dims(x.shape(), y.shape())));
}

void upsample_nearest2x(const Tensor& x, Tensor& y) {
  check_compatible(x, y, "upsample_nearest2x");
  ODEGAN_CHECK(x.ndim() == 4 && y.shape() == Shape({x.shape()[0], x.shape()[1], 2 * x.shape()[2], 2 * x.shape()[3]}),
               "upsample_nearest2x: ", x.shape().str(), " -> ", y.shape().str(), " is not a 2x upsampling");
  ODEGAN_DISPATCH_DEVICE(x.device(), "upsample_nearest2x", upsample_nearest2x(x, y, pool_dims(x.shape(), y.shape())));
}

void upsample_nearest2x_backward(const Tensor& gy, Tensor& gx) {
  check_compatible(gy, gx, "upsample_nearest2x_backward");
  ODEGAN_CHECK(gx.ndim() == 4 &&
                   gy.shape() == Shape({gx.shape()[0], gx.shape()[1], 2 * gx.shape()[2], 2 * gx.shape()[3]}),
               "upsample_nearest2x_backward: ", gy.shape().str(), " -> ", gx.shape().str(), " is not a 2x downsampling");
  ODEGAN_DISPATCH_DEVICE(gy.device(), "upsample_nearest2x_backward",
                         upsample_nearest2x_backward(gy, gx, pool_dims(gx.shape(), gy.shape())));
}

}  // namespace odegan::kernels
