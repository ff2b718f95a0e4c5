#include "core/shape.h"

#include "core/error.h"

namespace odegan {

Shape::Shape(std::initializer_list<int64_t> dims) {
  ODEGAN_CHECK(static_cast<int>(dims.size()) <= kMaxDims, "Shape: at most ", kMaxDims, " dimensions");
  for (int64_t v : dims) push_back(v);
}

Shape::Shape(const std::vector<int64_t>& dims) {
  ODEGAN_CHECK(static_cast<int>(dims.size()) <= kMaxDims, "Shape: at most ", kMaxDims, " dimensions");
  for (int64_t v : dims) push_back(v);
}

void Shape::push_back(int64_t v) {
  ODEGAN_CHECK(n_ < kMaxDims, "Shape: at most ", kMaxDims, " dimensions");
  ODEGAN_CHECK(v >= 0 || v == -1, "Shape: negative dimension ", v);
  d_[n_++] = v;
}

int Shape::normalize_axis(int axis) const {
  int a = axis < 0 ? axis + n_ : axis;
  ODEGAN_CHECK(a >= 0 && a < n_, "axis ", axis, " out of range for shape ", str());
  return a;
}

int64_t Shape::at(int i) const { return d_[normalize_axis(i)]; }

int64_t Shape::numel() const {
  int64_t n = 1;
  // Checked: sizes come from files (safetensors, IDX) as well as from code.
  for (int i = 0; i < n_; ++i)
    ODEGAN_CHECK(!__builtin_mul_overflow(n, d_[i], &n), "Shape ", str(), ": the number of elements overflows int64");
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (n_ != o.n_) return false;
  for (int i = 0; i < n_; ++i)
    if (d_[i] != o.d_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < n_; ++i) {
    if (i) s += ", ";
    s += std::to_string(d_[i]);
  }
  return s + "]";
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  int n = std::max(a.ndim(), b.ndim());
  std::vector<int64_t> out(n);
  for (int i = 0; i < n; ++i) {
    int ia = a.ndim() - n + i, ib = b.ndim() - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    ODEGAN_CHECK(da == db || da == 1 || db == 1, "shapes ", a.str(), " and ", b.str(),
                 " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

}  // namespace odegan
