// Shape: up to 8 dimensions stored inline (no heap), printable as "[2, 3, 4]".
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace odegan {

class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int ndim() const { return n_; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  // Negative indices count from the end, as in NumPy; throws when out of range.
  int64_t at(int i) const;
  int normalize_axis(int axis) const;
  int64_t numel() const;
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  std::vector<int64_t> vec() const { return {d_, d_ + n_}; }

  void push_back(int64_t v);
  Shape with(int i, int64_t v) const { Shape s = *this; s.d_[i] = v; return s; }

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;

 private:
  int64_t d_[kMaxDims] = {};
  int n_ = 0;
};

// NumPy broadcasting of two shapes; throws naming both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace odegan
