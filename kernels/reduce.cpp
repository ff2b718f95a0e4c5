#include "kernels/reduce.h"

#include <algorithm>
#include <cmath>

#include "core/sync_count.h"
#include "kernels/broadcast.h"
#include "kernels/cpu/reduce.h"
#include "kernels/dispatch.h"
#include "kernels/reduce_plan.h"
#ifdef ODEGAN_WITH_CUDA
#include "kernels/cuda/reduce.h"
#endif

namespace odegan::kernels {

namespace {
const char* reduce_name(Reduce op) {
  switch (op) {
    case Reduce::sum: return "sum";
    case Reduce::mean: return "mean";
    case Reduce::max: return "max";
    case Reduce::sum_squares: return "sum_squares";
  }
  return "?";
}
}  // namespace

std::vector<int> normalize_axes(const Shape& in, const std::vector<int>& axes) {
  std::vector<int> out;
  if (axes.empty()) {
    for (int i = 0; i < in.ndim(); ++i) out.push_back(i);
    return out;
  }
  for (int a : axes) out.push_back(in.normalize_axis(a));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

ReducePlan make_reduce_plan(const Shape& in, const std::vector<int>& axes) {
  std::vector<bool> is_red(in.ndim(), false);
  for (int a : axes) is_red[a] = true;
  ReducePlan p;
  // Row-major strides, then merge neighbours with the same flag (size-1 dims dropped).
  std::vector<int64_t> st(in.ndim(), 1);
  for (int i = in.ndim() - 2; i >= 0; --i) st[i] = st[i + 1] * in[i + 1];
  for (int i = 0; i < in.ndim(); ++i) {
    if (in[i] == 1) continue;
    if (p.ngroups > 0 && p.reduced[p.ngroups - 1] == is_red[i]) {
      p.size[p.ngroups - 1] *= in[i];
      p.stride[p.ngroups - 1] = st[i];
      continue;
    }
    p.size[p.ngroups] = in[i];
    p.stride[p.ngroups] = st[i];
    p.reduced[p.ngroups] = is_red[i];
    ++p.ngroups;
  }
  for (int g = 0; g < p.ngroups; ++g) {
    if (p.reduced[g]) {
      p.red[p.nred++] = g;
      p.per_output *= p.size[g];
    } else {
      p.kept[p.nkept++] = g;
      p.outputs *= p.size[g];
    }
  }
  if (in.numel() == 0) {  // empty input: outputs from the kept dims, nothing to reduce
    p.outputs = 1;
    for (int i = 0; i < in.ndim(); ++i)
      if (!is_red[i]) p.outputs *= in[i];
    p.per_output = 0;
  }
  return p;
}

Shape reduced_shape(const Shape& in, const std::vector<int>& axes, bool keepdim) {
  std::vector<int> ax = normalize_axes(in, axes);
  std::vector<int64_t> out;
  size_t k = 0;
  for (int i = 0; i < in.ndim(); ++i) {
    bool r = k < ax.size() && ax[k] == i;
    if (r) ++k;
    if (!r)
      out.push_back(in[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return Shape(out);
}

void reduce(Reduce op, const Tensor& x, Tensor& out, const std::vector<int>& axes, bool keepdim) {
  const char* name = reduce_name(op);
  check_compatible(x, out, name);
  ODEGAN_CHECK(is_floating(x.dtype()), name, ": needs a float tensor, got ", describe(x));
  std::vector<int> ax = normalize_axes(x.shape(), axes);
  if (op == Reduce::sum_squares) ax = normalize_axes(x.shape(), {});
  Shape expect = reduced_shape(x.shape(), op == Reduce::sum_squares ? std::vector<int>{} : ax,
                               op == Reduce::sum_squares ? false : keepdim);
  ODEGAN_CHECK(out.shape() == expect, name, ": output shape ", out.shape().str(), " but reducing ", x.shape().str(),
               " gives ", expect.str());
  ODEGAN_CHECK(op != Reduce::max || x.numel() > 0 || expect.numel() == 0, "max: reduction of an empty tensor ",
               describe(x), " has no value");
  ReducePlan plan = make_reduce_plan(x.shape(), ax);
  ODEGAN_DISPATCH_DEVICE(x.device(), name, reduce(op, x, out, plan));
}

Tensor reduce(Reduce op, const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  check_defined(x, reduce_name(op), "input");
  Shape s = op == Reduce::sum_squares ? Shape{} : reduced_shape(x.shape(), axes, keepdim);
  Tensor out = Tensor::empty(s, x.dtype(), x.device());
  reduce(op, x, out, axes, keepdim);
  return out;
}

void broadcast_to(const Tensor& x, Tensor& out) {
  check_compatible(x, out, "broadcast_to");
  Shape s = broadcast_shapes(x.shape(), out.shape());
  ODEGAN_CHECK(s == out.shape(), "broadcast_to: cannot broadcast ", x.shape().str(), " to ", out.shape().str());
  BroadcastPlan plan = make_broadcast_plan(x.shape(), out.shape(), out.shape());
  ODEGAN_DISPATCH_DEVICE(x.device(), "broadcast_to", broadcast_copy(x, out, plan));
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  check_defined(x, "broadcast_to", "input");
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  broadcast_to(x, out);
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  check_defined(x, "sum_to", "input");
  ODEGAN_CHECK(broadcast_shapes(shape, x.shape()) == x.shape(), "sum_to: ", shape.str(),
               " does not broadcast to the input shape ", x.shape().str());
  if (x.shape() == shape) return x.clone();
  const int lead = x.ndim() - shape.ndim();
  std::vector<int> axes;
  for (int i = 0; i < x.ndim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) axes.push_back(i);
  return reduce(Reduce::sum, x, axes, true).reshape(shape);
}

bool all_finite(const Tensor& x) {
  check_defined(x, "all_finite", "input");
  if (x.numel() == 0) return true;
  ODEGAN_CHECK(is_floating(x.dtype()), "all_finite: needs a float tensor, got ", describe(x));
  bool ok = true;
  if (x.device().is_cpu()) note_sync();  // the CUDA version reads a flag back (counted there)
  ODEGAN_DISPATCH_DEVICE(x.device(), "all_finite", all_finite(x, ok));
  return ok;
}

}  // namespace odegan::kernels
