#include "kernels/conv.h"

#include "kernels/cpu/conv.h"
#include "kernels/dispatch.h"
#ifdef ODEGAN_WITH_CUDA
#include "kernels/cuda/conv.h"
#endif

namespace odegan::kernels {

namespace {
void check_geometry(const Conv2dGeometry& g, const char* op) {
  ODEGAN_CHECK(g.stride_h > 0 && g.stride_w > 0 && g.dilation_h > 0 && g.dilation_w > 0 && g.pad_h >= 0 &&
                   g.pad_w >= 0,
               op, ": bad geometry (stride ", g.stride_h, "x", g.stride_w, ", padding ", g.pad_h, "x", g.pad_w,
               ", dilation ", g.dilation_h, "x", g.dilation_w, ")");
}

// Multiply-adds x 2 of a convolution with output y (N, K, P, Q) and weight (K, C, R, S):
// the same for its forward and both halves of its backward.
double conv_flops(const Shape& y, const Shape& w) {
  return 2.0 * static_cast<double>(y.numel()) * static_cast<double>(w[1] * w[2] * w[3]);
}

int64_t out_size(int64_t in, int64_t k, int stride, int pad, int dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}
}  // namespace

Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dGeometry& g) {
  check_geometry(g, "conv2d");
  ODEGAN_CHECK(x.ndim() == 4 && w.ndim() == 4, "conv2d: input ", x.str(), " and weight ", w.str(),
               " must be (N, C, H, W) and (K, C, R, S)");
  ODEGAN_CHECK(x[1] == w[1], "conv2d: input has ", x[1], " channels but weight ", w.str(), " expects ", w[1]);
  const int64_t p = out_size(x[2], w[2], g.stride_h, g.pad_h, g.dilation_h);
  const int64_t q = out_size(x[3], w[3], g.stride_w, g.pad_w, g.dilation_w);
  ODEGAN_CHECK(p > 0 && q > 0, "conv2d: input ", x.str(), " is too small for weight ", w.str(), " with padding ",
               g.pad_h, "x", g.pad_w, " and dilation ", g.dilation_h, "x", g.dilation_w);
  return {x[0], w[0], p, q};
}

Shape conv_transpose2d_output_shape(const Shape& x, const Shape& w, const Conv2dGeometry& g, int oph, int opw) {
  check_geometry(g, "conv_transpose2d");
  ODEGAN_CHECK(x.ndim() == 4 && w.ndim() == 4, "conv_transpose2d: input ", x.str(), " and weight ", w.str(),
               " must be (N, C_in, H, W) and (C_in, C_out, R, S)");
  ODEGAN_CHECK(x[1] == w[0], "conv_transpose2d: input has ", x[1], " channels but weight ", w.str(), " expects ", w[0]);
  ODEGAN_CHECK(oph >= 0 && opw >= 0 && (oph < g.stride_h || oph < g.dilation_h) &&
                   (opw < g.stride_w || opw < g.dilation_w),
               "conv_transpose2d: output padding ", oph, "x", opw, " must be smaller than the stride or dilation");
  const int64_t h = (x[2] - 1) * g.stride_h - 2 * g.pad_h + g.dilation_h * (w[2] - 1) + oph + 1;
  const int64_t wd = (x[3] - 1) * g.stride_w - 2 * g.pad_w + g.dilation_w * (w[3] - 1) + opw + 1;
  ODEGAN_CHECK(h > 0 && wd > 0, "conv_transpose2d: output would be empty for input ", x.str(), " and weight ",
               w.str());
  return {x[0], w[1], h, wd};
}

void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const Conv2dGeometry& g) {
  check_compatible(x, w, "conv2d");
  check_compatible(x, y, "conv2d");
  ODEGAN_CHECK(is_floating(x.dtype()), "conv2d: needs float tensors, got ", describe(x));
  Shape s = conv2d_output_shape(x.shape(), w.shape(), g);
  ODEGAN_CHECK(y.shape() == s, "conv2d: output ", y.shape().str(), " but input ", x.shape().str(), " and weight ",
               w.shape().str(), " give ", s.str());
  profile::add_flops("conv2d", conv_flops(s, w.shape()));
  ODEGAN_DISPATCH_DEVICE(x.device(), "conv2d", conv2d_forward(x, w, y, g));
}

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Conv2dGeometry& g) {
  check_compatible(x, w, "conv2d");
  Tensor y = Tensor::empty(conv2d_output_shape(x.shape(), w.shape(), g), x.dtype(), x.device());
  conv2d_forward(x, w, y, g);
  return y;
}

void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dGeometry& g) {
  check_compatible(gy, w, "conv2d_backward_data");
  check_compatible(gy, gx, "conv2d_backward_data");
  ODEGAN_CHECK(is_floating(gy.dtype()), "conv2d_backward_data: needs float tensors, got ", describe(gy));
  Shape s = conv2d_output_shape(gx.shape(), w.shape(), g);
  ODEGAN_CHECK(gy.shape() == s, "conv2d_backward_data: gradient ", gy.shape().str(), " but input ",
               gx.shape().str(), " and weight ", w.shape().str(), " give outputs ", s.str());
  profile::add_flops("conv2d_backward_data", conv_flops(s, w.shape()));
  ODEGAN_DISPATCH_DEVICE(gy.device(), "conv2d_backward_data", conv2d_backward_data(gy, w, gx, g));
}

Tensor conv2d_backward_data(const Tensor& gy, const Tensor& w, const Shape& x_shape, const Conv2dGeometry& g) {
  check_compatible(gy, w, "conv2d_backward_data");
  Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.device());
  conv2d_backward_data(gy, w, gx, g);
  return gx;
}

void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& gw, const Conv2dGeometry& g) {
  check_compatible(x, gy, "conv2d_backward_filter");
  check_compatible(x, gw, "conv2d_backward_filter");
  ODEGAN_CHECK(is_floating(x.dtype()), "conv2d_backward_filter: needs float tensors, got ", describe(x));
  Shape s = conv2d_output_shape(x.shape(), gw.shape(), g);
  ODEGAN_CHECK(gy.shape() == s, "conv2d_backward_filter: gradient ", gy.shape().str(), " but input ",
               x.shape().str(), " and weight ", gw.shape().str(), " give outputs ", s.str());
  profile::add_flops("conv2d_backward_filter", conv_flops(s, gw.shape()));
  ODEGAN_DISPATCH_DEVICE(x.device(), "conv2d_backward_filter", conv2d_backward_filter(x, gy, gw, g));
}

Tensor conv2d_backward_filter(const Tensor& x, const Tensor& gy, const Shape& w_shape, const Conv2dGeometry& g) {
  check_compatible(x, gy, "conv2d_backward_filter");
  Tensor gw = Tensor::empty(w_shape, x.dtype(), x.device());
  conv2d_backward_filter(x, gy, gw, g);
  return gw;
}

}  // namespace odegan::kernels
