#include "kernels/cpu/elementwise.h"

#include "kernels/cpu/parallel.h"
#include "kernels/elementwise_ops.h"

namespace odegan::kernels::cpu {
namespace {

// The loops below copy what they capture into locals first: through a captured
// reference, the compiler must assume a store to out[i] may change `a` or the pointers
// themselves, reloads them every element, and does not vectorise (4-8x slower).
template <Unary OP, class T>
void unary_loop(const T* x, T* out, int64_t n, T a, T b) {
  parallel_for(n, kParallelGrain, [x, out, a, b](int64_t lo, int64_t hi) {
    const T* xp = x;
    T* o = out;
    const T av = a, bv = b;
    for (int64_t i = lo; i < hi; ++i) o[i] = ops::unary<OP, T>(xp[i], av, bv);
  });
}

template <Binary OP, class T>
void binary_loop(const T* x, const T* y, T* out, T a, const BroadcastPlan& p) {
  const int64_t n = p.numel;
  switch (p.kind) {
    case BroadcastPlan::same:
      parallel_for(n, kParallelGrain, [x, y, out, a](int64_t lo, int64_t hi) {
        const T *xp = x, *yp = y;
        T* o = out;
        const T av = a;
        for (int64_t i = lo; i < hi; ++i) o[i] = ops::binary<OP, T>(xp[i], yp[i], av);
      });
      return;
    case BroadcastPlan::y_scalar: {
      const T yv = y[0];
      parallel_for(n, kParallelGrain, [x, yv, out, a](int64_t lo, int64_t hi) {
        const T* xp = x;
        T* o = out;
        const T yc = yv, av = a;
        for (int64_t i = lo; i < hi; ++i) o[i] = ops::binary<OP, T>(xp[i], yc, av);
      });
      return;
    }
    case BroadcastPlan::x_scalar: {
      const T xv = x[0];
      parallel_for(n, kParallelGrain, [xv, y, out, a](int64_t lo, int64_t hi) {
        const T* yp = y;
        T* o = out;
        const T xc = xv, av = a;
        for (int64_t i = lo; i < hi; ++i) o[i] = ops::binary<OP, T>(xc, yp[i], av);
      });
      return;
    }
    case BroadcastPlan::general:
      break;
  }
  // General case: walk the outer coalesced dims, with a strided loop over the innermost.
  const int nd = p.ndim;
  const int64_t inner = p.dims[nd - 1], xsi = p.xs[nd - 1], ysi = p.ys[nd - 1];
  const int64_t rows = n / (inner > 0 ? inner : 1);
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(inner, 1)), [&](int64_t lo, int64_t hi) {
    const T av = a;
    for (int64_t r = lo; r < hi; ++r) {
      int64_t xo = 0, yo = 0, rem = r;
      for (int d = nd - 2; d >= 0; --d) {
        int64_t idx = rem % p.dims[d];
        rem /= p.dims[d];
        xo += idx * p.xs[d];
        yo += idx * p.ys[d];
      }
      T* o = out + r * inner;
      const T* xr = x + xo;
      const T* yr = y + yo;
      if (xsi == 1 && ysi == 1) {
        for (int64_t i = 0; i < inner; ++i) o[i] = ops::binary<OP, T>(xr[i], yr[i], av);
      } else if (xsi == 1 && ysi == 0) {
        const T yv = yr[0];
        for (int64_t i = 0; i < inner; ++i) o[i] = ops::binary<OP, T>(xr[i], yv, av);
      } else if (xsi == 0 && ysi == 1) {
        const T xv = xr[0];
        for (int64_t i = 0; i < inner; ++i) o[i] = ops::binary<OP, T>(xv, yr[i], av);
      } else {
        for (int64_t i = 0; i < inner; ++i) o[i] = ops::binary<OP, T>(xr[i * xsi], yr[i * ysi], av);
      }
    }
  });
}

template <class T>
void lincomb_loop(T* out, T c0, const T* x0, int nt, const T* c, const T* const* k, int64_t n) {
  parallel_for(n, kParallelGrain, [&](int64_t lo, int64_t hi) {
    switch (nt) {  // fixed-count loops so the compiler vectorises each
      case 0:
        for (int64_t i = lo; i < hi; ++i) out[i] = c0 * x0[i];
        break;
      case 1:
        for (int64_t i = lo; i < hi; ++i) out[i] = c0 * x0[i] + c[0] * k[0][i];
        break;
      case 2:
        for (int64_t i = lo; i < hi; ++i) out[i] = c0 * x0[i] + c[0] * k[0][i] + c[1] * k[1][i];
        break;
      case 3:
        for (int64_t i = lo; i < hi; ++i)
          out[i] = c0 * x0[i] + c[0] * k[0][i] + c[1] * k[1][i] + c[2] * k[2][i];
        break;
      default:
        for (int64_t i = lo; i < hi; ++i)
          out[i] = c0 * x0[i] + c[0] * k[0][i] + c[1] * k[1][i] + c[2] * k[2][i] + c[3] * k[3][i];
        break;
    }
  });
}

}  // namespace

void unary(Unary op, const Tensor& x, Tensor& out, double a, double b) {
  visit_float(x.dtype(), unary_name(op), [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* op_ = out.data<scalar_t>();
    const scalar_t ta = static_cast<scalar_t>(a), tb = static_cast<scalar_t>(b);
    switch (op) {
#define F(name, formula)                                                        \
  case Unary::name:                                                    \
    unary_loop<Unary::name, scalar_t>(xp, op_, x.numel(), ta, tb);     \
    break;
      ODEGAN_UNARY_OPS(F)
#undef F
    }
  });
}

void binary(Binary op, const Tensor& x, const Tensor& y, Tensor& out, double a, const BroadcastPlan& plan) {
  visit_float(x.dtype(), binary_name(op), [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* xp = x.data<scalar_t>();
    const scalar_t* yp = y.data<scalar_t>();
    scalar_t* o = out.data<scalar_t>();
    const scalar_t ta = static_cast<scalar_t>(a);
    switch (op) {
#define F(name, formula)                                                   \
  case Binary::name:                                              \
    binary_loop<Binary::name, scalar_t>(xp, yp, o, ta, plan);     \
    break;
      ODEGAN_BINARY_OPS(F)
#undef F
    }
  });
}

void lincomb(Tensor& out, double c0, const Tensor& x0, const std::vector<std::pair<double, Tensor>>& terms) {
  visit_float(out.dtype(), "lincomb", [&](auto tag) {
    using scalar_t = decltype(tag);
    scalar_t c[4] = {};
    const scalar_t* k[4] = {};
    int nt = static_cast<int>(terms.size());
    for (int i = 0; i < nt; ++i) {
      c[i] = static_cast<scalar_t>(terms[i].first);
      k[i] = terms[i].second.data<scalar_t>();
    }
    lincomb_loop<scalar_t>(out.data<scalar_t>(), static_cast<scalar_t>(c0), x0.data<scalar_t>(), nt, c, k,
                           out.numel());
  });
}

}  // namespace odegan::kernels::cpu
