#include "kernels/cpu/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/norm_ops.h"

namespace odegan::kernels::cpu {
namespace {

// Per-channel mean and biased variance (two passes, in double).
template <class T>
void channel_stats(const T* x, const NormDims& d, int64_t c, double& mean, double& var) {
  double s = 0;
  for (int64_t n = 0; n < d.n; ++n) {
    const T* p = x + (n * d.c + c) * d.hw;
    for (int64_t i = 0; i < d.hw; ++i) s += p[i];
  }
  const double m = static_cast<double>(d.per_channel());
  mean = s / m;
  double ss = 0;
  for (int64_t n = 0; n < d.n; ++n) {
    const T* p = x + (n * d.c + c) * d.hw;
    for (int64_t i = 0; i < d.hw; ++i) {
      double dv = p[i] - mean;
      ss += dv * dv;
    }
  }
  var = ss / m;
}

// y = x * scale + shift over one channel.
template <class T>
void channel_affine(const T* x, T* y, const NormDims& d, int64_t c, T scale, T shift) {
  for (int64_t n = 0; n < d.n; ++n) {
    const int64_t off = (n * d.c + c) * d.hw;
    for (int64_t i = 0; i < d.hw; ++i) y[off + i] = norm_ops::apply(x[off + i], scale, shift);
  }
}

// Runs f(c) for every channel, channels spread over threads when there are enough
// elements. Channels are independent and each is summed by one thread in a fixed order,
// so the results do not depend on the number of threads.
template <class F>
void for_channels(const NormDims& d, F&& f) {
  const int64_t per = std::max<int64_t>(1, d.per_channel());
  parallel_for(d.c, std::max<int64_t>(1, kParallelGrain / per), [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) f(c);
  });
}

}  // namespace

void batch_norm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, double momentum,
                                 Tensor& running_mean, Tensor& running_var, Tensor& y, Tensor& save_mean,
                                 Tensor& save_invstd, const NormDims& d) {
  visit_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    const T* g = gamma.data<T>();
    const T* b = beta.data<T>();
    T* yp = y.data<T>();
    T* sm = save_mean.data<T>();
    T* si = save_invstd.data<T>();
    T* rm = running_mean.defined() ? running_mean.data<T>() : nullptr;
    T* rv = running_var.defined() ? running_var.data<T>() : nullptr;
    const int64_t m = d.per_channel();
    for_channels(d, [&](int64_t c) {
      double mean, var;
      channel_stats(xp, d, c, mean, var);
      const double invstd = norm_ops::invstd(var, eps);
      sm[c] = static_cast<T>(mean);
      si[c] = static_cast<T>(invstd);
      double scale, shift;
      norm_ops::training_affine(g[c], b[c], mean, invstd, scale, shift);
      channel_affine(xp, yp, d, c, static_cast<T>(scale), static_cast<T>(shift));
      if (rm) norm_ops::update_running(rm[c], rv[c], mean, var, m, momentum);
    });
  });
}

void batch_norm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                  const Tensor& running_var, double eps, Tensor& y, const NormDims& d) {
  visit_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* g = gamma.data<T>();
    const T* b = beta.data<T>();
    const T* rm = running_mean.data<T>();
    const T* rv = running_var.data<T>();
    for_channels(d, [&](int64_t c) {
      double scale, shift;
      norm_ops::inference_affine(g[c], b[c], rm[c], rv[c], eps, scale, shift);
      channel_affine(x.data<T>(), y.data<T>(), d, c, static_cast<T>(scale), static_cast<T>(shift));
    });
  });
}

void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, Tensor& gx, Tensor& ggamma, Tensor& gbeta, const NormDims& d) {
  visit_float(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    const T* gp = gy.data<T>();
    const T* g = gamma.data<T>();
    const T* sm = save_mean.data<T>();
    const T* si = save_invstd.data<T>();
    const double m = static_cast<double>(d.per_channel());
    for_channels(d, [&](int64_t c) {
      // sum(gy) and sum(gy * xhat) over the channel.
      double sg = 0, sgx = 0;
      const double mean = sm[c], inv = si[c];
      for (int64_t n = 0; n < d.n; ++n) {
        const int64_t off = (n * d.c + c) * d.hw;
        for (int64_t i = 0; i < d.hw; ++i) {
          sg += gp[off + i];
          sgx += gp[off + i] * norm_ops::xhat(xp[off + i], mean, inv);
        }
      }
      if (gbeta.defined()) gbeta.data<T>()[c] = static_cast<T>(sg);
      if (ggamma.defined()) ggamma.data<T>()[c] = static_cast<T>(sgx);
      if (!gx.defined()) return;
      T* o = gx.data<T>();
      const norm_ops::BackwardChannel bc = norm_ops::backward_channel(g[c], mean, inv, sg, sgx, m);
      for (int64_t n = 0; n < d.n; ++n) {
        const int64_t off = (n * d.c + c) * d.hw;
        for (int64_t i = 0; i < d.hw; ++i) o[off + i] = static_cast<T>(norm_ops::backward_dx(bc, gp[off + i], xp[off + i]));
      }
    });
  });
}

}  // namespace odegan::kernels::cpu
