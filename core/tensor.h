// Tensor: a cheap handle to a contiguous, row-major block of numbers on one device.
// It is shared storage + a byte offset + shape + dtype; copying a Tensor shares data.
// Views (reshape, first-axis slices, flat views into a larger buffer) share storage too.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"
#include "core/storage.h"

namespace odegan {

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing

  // ---- creation
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu()) {
    return full(Shape{}, value, dtype, device);
  }
  // Copies host values; the dtype follows T (float, double, int32_t).
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            Device device = Device::cpu());
  // Copies host doubles and stores them as `dtype` (convenient in tests).
  static Tensor from_doubles(const std::vector<double>& values, const Shape& shape,
                             DType dtype, Device device = Device::cpu());
  // A view of `shape` at `offset_bytes` into existing storage (bounds-checked).
  static Tensor from_storage(std::shared_ptr<Storage> storage, size_t offset_bytes, const Shape& shape,
                             DType dtype);
  // Same shape/dtype/device as `like`, uninitialised / zero.
  static Tensor empty_like(const Tensor& like) { return empty(like.shape(), like.dtype(), like.device()); }
  static Tensor zeros_like(const Tensor& like) { return zeros(like.shape(), like.dtype(), like.device()); }

  // ---- properties
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  int64_t size(int axis) const { return shape_.at(axis); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  bool is_cuda() const { return device().is_cuda(); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  size_t offset_bytes() const { return offset_; }
  // True when both tensors view the same bytes (same storage, offset and size).
  bool same_memory(const Tensor& o) const {
    return storage_ == o.storage_ && offset_ == o.offset_ && nbytes() == o.nbytes();
  }
  // True when the two tensors share at least one byte.
  bool overlaps(const Tensor& o) const {
    return storage_ && storage_ == o.storage_ && offset_ < o.offset_ + o.nbytes() && o.offset_ < offset_ + nbytes();
  }

  void* data_ptr() const;
  // Typed pointer; throws if T does not match the dtype.
  template <class T>
  T* data() const;

  // ---- views (share storage)
  Tensor reshape(const Shape& shape) const;  // one -1 is inferred
  Tensor flatten() const { return reshape(Shape{numel_}); }
  Tensor slice(int64_t begin, int64_t end) const;  // rows [begin, end) of axis 0
  Tensor operator[](int64_t i) const;              // row i of axis 0, one dim fewer
  // A view of `shape` starting `element_offset` elements into this tensor's data.
  Tensor view(int64_t element_offset, const Shape& shape) const;

  // ---- copies and fills
  Tensor to(Device device) const;  // same tensor if already there
  Tensor to(DType dtype) const;    // converted copy (same tensor if same dtype)
  Tensor clone() const;
  // Copies src's values into this tensor (numel must match; any devices; same dtype).
  void copy_(const Tensor& src) const;
  void fill_(double value) const;
  void zero_() const { fill_(0.0); }

  // Host copies of the values (any dtype converted to T).
  template <class T>
  std::vector<T> to_vector() const;
  // The single value of a one-element tensor.
  double item() const;

  std::string str(int max_per_dim = 6) const;  // "Tensor[2, 3] float32 cpu\n[[...]]"

 private:
  Tensor(std::shared_ptr<Storage> s, size_t offset, const Shape& shape, DType dtype)
      : storage_(std::move(s)), offset_(offset), shape_(shape), numel_(shape.numel()), dtype_(dtype) {}

  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
  Shape shape_;
  int64_t numel_ = 0;
  DType dtype_ = DType::f32;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- argument checks shared by all ops (they throw with both shapes printed)
void check_defined(const Tensor& t, const char* op, const char* what);
void check_same_shape(const Tensor& a, const Tensor& b, const char* op);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
// All three of the above.
void check_compatible(const Tensor& a, const Tensor& b, const char* op);
void check_ndim(const Tensor& t, int ndim, const char* op, const char* what);

std::string describe(const Tensor& t);  // "[2, 3] float32 cpu"

}  // namespace odegan
