#include "kernels/cpu/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace odegan::kernels::cpu {
namespace {

// Folds one value into an accumulator; max propagates NaN.
template <Reduce OP>
inline void fold(double& acc, double v) {
  if constexpr (OP == Reduce::max) {
    if (v > acc || std::isnan(v)) acc = std::isnan(acc) ? acc : v;
  } else if constexpr (OP == Reduce::sum_squares) {
    acc += v * v;
  } else {
    acc += v;
  }
}

template <Reduce OP>
double initial() {
  return OP == Reduce::max ? -std::numeric_limits<double>::infinity() : 0.0;
}

// acc folded with x[0..n). Sums run in 8 independent lanes combined in a fixed order at
// the end (the compiler vectorises them; one serial accumulator would be bound by the
// latency of each add), so the result depends only on n and the data.
template <Reduce OP, class T>
double fold_range(double acc, const T* __restrict x, int64_t n) {
  if constexpr (OP == Reduce::max) {
    for (int64_t i = 0; i < n; ++i) fold<OP>(acc, static_cast<double>(x[i]));
    return acc;
  } else {
    constexpr int L = 8;
    double lane[L] = {};
    const int64_t nv = n / L * L;
    for (int64_t i = 0; i < nv; i += L)
#pragma GCC unroll 8
      for (int l = 0; l < L; ++l) fold<OP>(lane[l], static_cast<double>(x[i + l]));
    for (int64_t i = nv; i < n; ++i) fold<OP>(lane[i - nv], static_cast<double>(x[i]));
    return acc + (((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7])));
  }
}

// Everything reduced to one value: fixed 64K-element chunks summed in order, so the
// result does not depend on the number of threads.
template <Reduce OP, class T>
double reduce_all(const T* x, int64_t n) {
  constexpr int64_t kChunk = 1 << 16;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(static_cast<size_t>(chunks), initial<OP>());
  parallel_for(chunks, n >= 2 * kParallelGrain ? 1 : chunks + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const int64_t begin = c * kChunk, end = std::min(n, begin + kChunk);
      part[c] = fold_range<OP>(initial<OP>(), x + begin, end - begin);
    }
  });
  double acc = initial<OP>();
  for (double p : part) {
    if constexpr (OP == Reduce::max)
      fold<OP>(acc, p);
    else
      acc += p;
  }
  return acc;
}

template <Reduce OP, class T>
void reduce_typed(const T* x, T* out, const ReducePlan& p) {
  if (p.per_output == 0) {
    const T v = OP == Reduce::mean ? std::numeric_limits<T>::quiet_NaN() : T(0);
    for (int64_t i = 0; i < p.outputs; ++i) out[i] = v;
    return;
  }
  if (p.nkept == 0) {
    double r = reduce_all<OP>(x, p.per_output);
    out[0] = static_cast<T>(OP == Reduce::mean ? r / static_cast<double>(p.per_output) : r);
    return;
  }
  std::vector<double> acc(static_cast<size_t>(p.outputs), initial<OP>());
  // Output strides of the kept groups (outputs are laid out in kept order).
  int64_t ostride[ReducePlan::kMax] = {};
  {
    int64_t s = 1;
    for (int k = p.nkept - 1; k >= 0; --k) {
      ostride[p.kept[k]] = s;
      s *= p.size[p.kept[k]];
    }
  }
  const int last = p.ngroups - 1;
  const int64_t inner = p.size[last];
  const int64_t outer = p.outputs * p.per_output / inner;
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, in_off = 0, out_off = 0;
    for (int g = last - 1; g >= 0; --g) {
      int64_t c = rem % p.size[g];
      rem /= p.size[g];
      in_off += c * p.stride[g];
      out_off += c * ostride[g];
    }
    const T* xr = x + in_off;
    if (p.reduced[last]) {
      acc[out_off] = fold_range<OP>(acc[out_off], xr, inner);
    } else {
      double* ar = acc.data() + out_off;
      for (int64_t j = 0; j < inner; ++j) fold<OP>(ar[j], static_cast<double>(xr[j]));
    }
  }
  const double scale = OP == Reduce::mean ? 1.0 / static_cast<double>(p.per_output) : 1.0;
  for (int64_t i = 0; i < p.outputs; ++i) out[i] = static_cast<T>(acc[i] * scale);
}

}  // namespace

void reduce(Reduce op, const Tensor& x, Tensor& out, const ReducePlan& plan) {
  visit_float(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* o = out.data<T>();
    switch (op) {
      case Reduce::sum: reduce_typed<Reduce::sum>(xp, o, plan); break;
      case Reduce::mean: reduce_typed<Reduce::mean>(xp, o, plan); break;
      case Reduce::max: reduce_typed<Reduce::max>(xp, o, plan); break;
      case Reduce::sum_squares: reduce_typed<Reduce::sum_squares>(xp, o, plan); break;
    }
  });
}

void broadcast_copy(const Tensor& x, Tensor& out, const BroadcastPlan& p) {
  visit_float(x.dtype(), "broadcast_to", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* o = out.data<T>();
    if (p.kind == BroadcastPlan::same) {
      std::copy(xp, xp + p.numel, o);
      return;
    }
    const int nd = p.ndim;
    const int64_t inner = p.dims[nd - 1], xsi = p.xs[nd - 1];
    const int64_t rows = inner > 0 ? p.numel / inner : 0;
    // Rows are independent copies: spread them over threads (a per-channel gradient
    // broadcast back over N x H x W is megabytes).
    parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(inner, 1)), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        int64_t rem = r, xo = 0;
        for (int d = nd - 2; d >= 0; --d) {
          xo += (rem % p.dims[d]) * p.xs[d];
          rem /= p.dims[d];
        }
        T* orow = o + r * inner;
        const T* xr = xp + xo;
        if (xsi == 0) {
          std::fill(orow, orow + inner, xr[0]);
        } else if (xsi == 1) {
          std::copy(xr, xr + inner, orow);
        } else {
          for (int64_t j = 0; j < inner; ++j) orow[j] = xr[j * xsi];
        }
      }
    });
  });
}

void all_finite(const Tensor& x, bool& ok) {
  visit_float(x.dtype(), "all_finite", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    bool good = true;
    const int64_t n = x.numel();
    for (int64_t i = 0; i < n; ++i) good &= std::isfinite(xp[i]);
    ok = good;
  });
}

}  // namespace odegan::kernels::cpu
