#include "kernels/shape_ops.h"

#include "kernels/cpu/shape_ops.h"
#include "kernels/shape_ops_plan.h"
#include "kernels/dispatch.h"
#ifdef ODEGAN_WITH_CUDA
#include "kernels/cuda/shape_ops.h"
#endif

namespace odegan::kernels {

namespace {
// Views a tensor as [outer, axis, inner] around `axis`.
AxisView axis_view(const Shape& s, int axis) {
  AxisView v;
  for (int i = 0; i < axis; ++i) v.outer *= s[i];
  v.axis = s[axis];
  for (int i = axis + 1; i < s.ndim(); ++i) v.inner *= s[i];
  return v;
}

void check_indices(const Tensor& indices, int64_t limit, const char* op) {
  check_defined(indices, op, "indices");
  ODEGAN_CHECK(indices.dtype() == DType::i32 && indices.ndim() == 1, op, ": indices must be a 1-D int32 tensor, got ",
               describe(indices));
  if (indices.is_cuda()) {
#ifdef ODEGAN_WITH_CUDA
    // No copy to the host (a sync per call): a kernel checks, the next sync reports.
    cuda::check_indices(indices, limit, op);
#endif
    return;
  }
  const int32_t* idx = indices.data<int32_t>();
  for (int64_t i = 0; i < indices.numel(); ++i)
    ODEGAN_CHECK(idx[i] >= 0 && idx[i] < limit, op, ": index ", idx[i], " at position ", i,
                 " is out of range [0, ", limit, ")");
}
}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  ODEGAN_CHECK(!xs.empty(), "concat: no tensors");
  const Tensor& first = xs[0];
  check_defined(first, "concat", "input 0");
  const int a = first.shape().normalize_axis(axis);
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_compatible(first, xs[i], "concat");
    bool ok = xs[i].ndim() == first.ndim();
    for (int d = 0; ok && d < first.ndim(); ++d) ok = d == a || xs[i].shape()[d] == first.shape()[d];
    ODEGAN_CHECK(ok, "concat along axis ", a, ": input ", i, " has shape ", xs[i].shape().str(),
                 ", incompatible with ", first.shape().str());
    total += xs[i].shape()[a];
  }
  Tensor out = Tensor::empty(first.shape().with(a, total), first.dtype(), first.device());
  int64_t at = 0;
  for (const Tensor& x : xs) {
    slice_axis_assign(x, a, at, out);
    at += x.shape()[a];
  }
  return out;
}

Tensor slice_axis(const Tensor& x, int axis, int64_t begin, int64_t end) {
  check_defined(x, "slice_axis", "input");
  const int a = x.shape().normalize_axis(axis);
  ODEGAN_CHECK(0 <= begin && begin <= end && end <= x.shape()[a], "slice_axis: [", begin, ", ", end,
               ") out of range for axis ", a, " of ", x.shape().str());
  Tensor out = Tensor::empty(x.shape().with(a, end - begin), x.dtype(), x.device());
  AxisView src = axis_view(x.shape(), a);
  ODEGAN_DISPATCH_DEVICE(x.device(), "slice_axis", copy_axis_block(x, src, begin, out, axis_view(out.shape(), a), 0,
                                                                    end - begin));
  return out;
}

void slice_axis_assign(const Tensor& src, int axis, int64_t begin, Tensor& out) {
  check_compatible(src, out, "slice_axis_assign");
  const int a = out.shape().normalize_axis(axis);
  bool ok = src.ndim() == out.ndim();
  for (int d = 0; ok && d < out.ndim(); ++d) ok = d == a || src.shape()[d] == out.shape()[d];
  ODEGAN_CHECK(ok && begin >= 0 && begin + src.shape()[a] <= out.shape()[a], "slice_axis_assign: ",
               src.shape().str(), " does not fit into ", out.shape().str(), " at ", begin, " along axis ", a);
  ODEGAN_DISPATCH_DEVICE(out.device(), "slice_axis_assign",
                         copy_axis_block(src, axis_view(src.shape(), a), 0, out, axis_view(out.shape(), a), begin,
                                         src.shape()[a]));
}

Tensor transpose_last2(const Tensor& x) {
  check_defined(x, "transpose_last2", "input");
  ODEGAN_CHECK(x.ndim() >= 2, "transpose_last2: needs at least 2 dimensions, got ", x.shape().str());
  Shape s = x.shape();
  const int n = s.ndim();
  const int64_t m = s[n - 2], k = s[n - 1];
  Shape os = s.with(n - 2, k).with(n - 1, m);
  Tensor out = Tensor::empty(os, x.dtype(), x.device());
  const int64_t batch = m * k > 0 ? x.numel() / (m * k) : 0;
  ODEGAN_DISPATCH_DEVICE(x.device(), "transpose_last2", transpose_last2(x, out, batch, m, k));
  return out;
}

Tensor embedding_gather(const Tensor& table, const Tensor& indices) {
  check_defined(table, "embedding_gather", "table");
  ODEGAN_CHECK(table.ndim() == 2, "embedding_gather: table must be (V, D), got ", table.shape().str());
  check_indices(indices, table.shape()[0], "embedding_gather");
  check_same_device(table, indices, "embedding_gather");
  Tensor out = Tensor::empty({indices.shape()[0], table.shape()[1]}, table.dtype(), table.device());
  ODEGAN_DISPATCH_DEVICE(table.device(), "embedding_gather", embedding_gather(table, indices, out));
  return out;
}

Tensor embedding_scatter_add(const Tensor& g, const Tensor& indices, int64_t num_rows) {
  check_defined(g, "embedding_scatter_add", "gradient");
  ODEGAN_CHECK(g.ndim() == 2, "embedding_scatter_add: gradient must be (N, D), got ", g.shape().str());
  check_indices(indices, num_rows, "embedding_scatter_add");
  ODEGAN_CHECK(indices.shape()[0] == g.shape()[0], "embedding_scatter_add: ", indices.shape()[0],
               " indices for gradient ", g.shape().str());
  check_same_device(g, indices, "embedding_scatter_add");
  Tensor out = Tensor::zeros({num_rows, g.shape()[1]}, g.dtype(), g.device());
  ODEGAN_DISPATCH_DEVICE(g.device(), "embedding_scatter_add", embedding_scatter_add(g, indices, out));
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t num_classes, DType dtype) {
  check_indices(indices, num_classes, "one_hot");
  Tensor out = Tensor::zeros({indices.shape()[0], num_classes}, dtype, indices.device());
  ODEGAN_DISPATCH_DEVICE(indices.device(), "one_hot", one_hot(indices, out));
  return out;
}

}  // namespace odegan::kernels
