#include "core/tensor.h"

#include <cstring>
#include <functional>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "core/sync_count.h"

#ifdef ODEGAN_WITH_CUDA
#include "core/cuda/context.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/tensor_cuda.h"
#endif

namespace odegan {
namespace {

[[noreturn]] void no_cuda(const char* what) {
  ODEGAN_FAIL(what, ": tensor is on CUDA but this build has no CUDA support");
}

template <class T>
void fill_host(void* p, int64_t n, double v) {
  T* t = static_cast<T*>(p);
  T tv = static_cast<T>(v);
  for (int64_t i = 0; i < n; ++i) t[i] = tv;
}

template <class S, class D>
void cast_host(const void* s, void* d, int64_t n) {
  const S* sp = static_cast<const S*>(s);
  D* dp = static_cast<D*>(d);
  for (int64_t i = 0; i < n; ++i) dp[i] = static_cast<D>(sp[i]);
}

template <class S>
void cast_host_from(const void* s, void* d, DType dst, int64_t n) {
  switch (dst) {
    case DType::f32: cast_host<S, float>(s, d, n); break;
    case DType::f64: cast_host<S, double>(s, d, n); break;
    case DType::i32: cast_host<S, int32_t>(s, d, n); break;
  }
}

void cast_host_any(const void* s, DType src, void* d, DType dst, int64_t n) {
  switch (src) {
    case DType::f32: cast_host_from<float>(s, d, dst, n); break;
    case DType::f64: cast_host_from<double>(s, d, dst, n); break;
    case DType::i32: cast_host_from<int32_t>(s, d, dst, n); break;
  }
}

// Copies nbytes between any two devices; returns once `dst` holds the data when the
// destination is the host (so host code may read it), else in stream order.
void copy_bytes(void* dst, Device dd, const void* src, Device sd, size_t nbytes) {
  if (nbytes == 0) return;
  if (dd.is_cpu() && sd.is_cpu()) {
    std::memmove(dst, src, nbytes);
    return;
  }
#ifdef ODEGAN_WITH_CUDA
  if (dd.is_cuda() && sd.is_cuda()) {
    CudaContext& ctx = CudaContext::get(dd.index);
    CudaDeviceGuard guard(dd.index);
    if (dd.index == sd.index) {
      const uintptr_t d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
      if (d == s) return;
      if (d < s + nbytes && s < d + nbytes) {
        // cudaMemcpy leaves overlapping regions undefined; the CPU path is memmove. Both
        // agree when the bytes go through a temporary (stream-ordered, so no sync).
        void* tmp = nullptr;
        ODEGAN_CUDA_CHECK(cudaMallocAsync(&tmp, nbytes, ctx.stream()));
        cudaError_t e = cudaMemcpyAsync(tmp, src, nbytes, cudaMemcpyDeviceToDevice, ctx.stream());
        if (e == cudaSuccess) e = cudaMemcpyAsync(dst, tmp, nbytes, cudaMemcpyDeviceToDevice, ctx.stream());
        cudaFreeAsync(tmp, ctx.stream());
        ODEGAN_CUDA_CHECK(e);
      } else {
        ODEGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, ctx.stream()));
      }
    } else {
      CudaContext::get(sd.index).synchronize();
      ODEGAN_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dd.index, src, sd.index, nbytes, ctx.stream()));
      // The source's memory is freed in its own device's stream order: that stream must
      // not move on (and hand the block to new work) before this copy has read it.
      note_sync();
      ODEGAN_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
      ctx.raise_device_errors();
    }
  } else if (dd.is_cuda()) {
    CudaContext& ctx = CudaContext::get(dd.index);
    CudaDeviceGuard guard(dd.index);
    ODEGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, ctx.stream()));
    // Pageable host memory: the source may be freed as soon as we return.
    note_sync();
    ODEGAN_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
    ctx.raise_device_errors();
  } else {
    CudaContext& ctx = CudaContext::get(sd.index);
    CudaDeviceGuard guard(sd.index);
    ODEGAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, ctx.stream()));
    note_sync();
    ODEGAN_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
    ctx.raise_device_errors();
  }
#else
  (void)dd;
  (void)sd;
  no_cuda("copy");
#endif
}

}  // namespace

// ---------------------------------------------------------------- creation

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int i = 0; i < shape.ndim(); ++i)
    ODEGAN_CHECK(shape[i] >= 0, "Tensor::empty: bad shape ", shape.str());
  size_t nbytes = 0;
  ODEGAN_CHECK(!__builtin_mul_overflow(static_cast<size_t>(shape.numel()), dtype_size(dtype), &nbytes),
               "Tensor::empty: shape ", shape.str(), " ", dtype_name(dtype), " is too large (its byte size overflows)");
  return Tensor(std::make_shared<Storage>(nbytes, device), 0, shape, dtype);
}

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, size_t offset_bytes, const Shape& shape,
                            DType dtype) {
  ODEGAN_CHECK(storage != nullptr, "Tensor::from_storage: null storage");
  size_t need = offset_bytes + static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  ODEGAN_CHECK(need <= storage->nbytes(), "Tensor::from_storage: ", shape.str(), " ", dtype_name(dtype), " at byte ",
               offset_bytes, " does not fit in ", storage->nbytes(), " bytes");
  return Tensor(std::move(storage), offset_bytes, shape, dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(0.0);
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  ODEGAN_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from_vector: ", values.size(),
               " values for shape ", shape.str(), " (", shape.numel(), " elements)");
  Tensor t = empty(shape, dtype_of<T>::value, device);
  copy_bytes(t.data_ptr(), device, values.data(), Device::cpu(), t.nbytes());
  return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor Tensor::from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);

Tensor Tensor::from_doubles(const std::vector<double>& values, const Shape& shape, DType dtype, Device device) {
  Tensor t = from_vector(values, shape, Device::cpu());
  return t.to(dtype).to(device);
}

// ---------------------------------------------------------------- access

void* Tensor::data_ptr() const {
  ODEGAN_CHECK(storage_, "data_ptr() of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_;
}

template <class T>
T* Tensor::data() const {
  ODEGAN_CHECK(dtype_ == dtype_of<T>::value, "Tensor::data<", dtype_name(dtype_of<T>::value),
               ">() on a ", dtype_name(dtype_), " tensor");
  return static_cast<T*>(data_ptr());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int32_t* Tensor::data<int32_t>() const;

// ---------------------------------------------------------------- views

Tensor Tensor::reshape(const Shape& shape) const {
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.ndim(); ++i) {
    if (s[i] == -1) {
      ODEGAN_CHECK(infer < 0, "reshape: more than one -1 in ", shape.str());
      infer = i;
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    ODEGAN_CHECK(known > 0 && numel_ % known == 0, "reshape: cannot reshape ", shape_.str(), " into ",
                 shape.str());
    s[infer] = numel_ / known;
  }
  ODEGAN_CHECK(s.numel() == numel_, "reshape: cannot reshape ", shape_.str(), " (", numel_, " elements) into ",
               shape.str());
  return Tensor(storage_, offset_, s, dtype_);
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  ODEGAN_CHECK(ndim() >= 1, "slice of a 0-d tensor");
  int64_t n = shape_[0];
  ODEGAN_CHECK(0 <= begin && begin <= end && end <= n, "slice [", begin, ", ", end, ") out of range for shape ",
               shape_.str());
  int64_t row = numel_ / std::max<int64_t>(n, 1);
  Shape s = shape_.with(0, end - begin);
  return Tensor(storage_, offset_ + static_cast<size_t>(begin * row) * dtype_size(dtype_), s, dtype_);
}

Tensor Tensor::operator[](int64_t i) const {
  Tensor r = slice(i, i + 1);
  std::vector<int64_t> dims(shape_.begin() + 1, shape_.end());
  return r.reshape(Shape(dims));
}

Tensor Tensor::view(int64_t element_offset, const Shape& shape) const {
  ODEGAN_CHECK(element_offset >= 0 && element_offset + shape.numel() <= numel_, "view of ", shape.str(),
               " at element ", element_offset, " does not fit in ", shape_.str());
  return Tensor(storage_, offset_ + static_cast<size_t>(element_offset) * dtype_size(dtype_), shape, dtype_);
}

// ---------------------------------------------------------------- copies

Tensor Tensor::to(Device device) const {
  check_defined(*this, "to", "self");
  if (device == this->device()) return *this;
  Tensor t = empty(shape_, dtype_, device);
  copy_bytes(t.data_ptr(), device, data_ptr(), this->device(), nbytes());
  return t;
}

Tensor Tensor::to(DType dtype) const {
  check_defined(*this, "to", "self");
  if (dtype == dtype_) return *this;
  Tensor t = empty(shape_, dtype, device());
  if (device().is_cpu()) {
    cast_host_any(data_ptr(), dtype_, t.data_ptr(), dtype, numel_);
  } else {
#ifdef ODEGAN_WITH_CUDA
    cuda_impl::cast(data_ptr(), dtype_, t.data_ptr(), dtype, numel_, device().index);
#else
    no_cuda("to(dtype)");
#endif
  }
  return t;
}

Tensor Tensor::clone() const {
  check_defined(*this, "clone", "self");
  Tensor t = empty(shape_, dtype_, device());
  copy_bytes(t.data_ptr(), device(), data_ptr(), device(), nbytes());
  return t;
}

void Tensor::copy_(const Tensor& src) const {
  check_defined(*this, "copy_", "destination");
  check_defined(src, "copy_", "source");
  ODEGAN_CHECK(src.numel_ == numel_, "copy_: source ", describe(src), " and destination ", describe(*this),
               " differ in size");
  check_same_dtype(*this, src, "copy_");
  copy_bytes(data_ptr(), device(), src.data_ptr(), src.device(), nbytes());
}

void Tensor::fill_(double value) const {
  check_defined(*this, "fill_", "self");
  if (device().is_cpu()) {
    switch (dtype_) {
      case DType::f32: fill_host<float>(data_ptr(), numel_, value); break;
      case DType::f64: fill_host<double>(data_ptr(), numel_, value); break;
      case DType::i32: fill_host<int32_t>(data_ptr(), numel_, value); break;
    }
  } else {
#ifdef ODEGAN_WITH_CUDA
    cuda_impl::fill(data_ptr(), numel_, dtype_, value, device().index);
#else
    no_cuda("fill_");
#endif
  }
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_defined(*this, "to_vector", "self");
  if (device().is_cpu()) note_sync();  // a device tensor counts in its copy to the host
  Tensor host = to(Device::cpu()).to(dtype_of<T>::value);
  std::vector<T> out(static_cast<size_t>(numel_));
  if (numel_) std::memcpy(out.data(), host.data_ptr(), host.nbytes());
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;

double Tensor::item() const {
  ODEGAN_CHECK(numel_ == 1, "item(): tensor ", describe(*this), " has ", numel_, " elements, not 1");
  return to_vector<double>()[0];
}

// ---------------------------------------------------------------- printing

std::string describe(const Tensor& t) {
  if (!t.defined()) return "(undefined tensor)";
  return t.shape().str() + " " + dtype_name(t.dtype()) + " " + t.device().str();
}

std::string Tensor::str(int max_per_dim) const {
  std::ostringstream os;
  os << "Tensor" << describe(*this);
  if (!defined()) return os.str();
  std::vector<double> v = to_vector<double>();
  os << "\n";
  os << std::setprecision(dtype_ == DType::f64 ? 10 : 6);
  // Recursive printer over dims; long dims show the first and last few entries.
  std::vector<int64_t> strides(ndim(), 1);
  for (int i = ndim() - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape_[i + 1];
  std::function<void(int, int64_t)> rec = [&](int d, int64_t base) {
    if (d == ndim()) {
      os << v[static_cast<size_t>(base)];
      return;
    }
    os << "[";
    int64_t n = shape_[d];
    for (int64_t i = 0; i < n; ++i) {
      if (n > 2 * max_per_dim && i == max_per_dim) {
        os << "..., ";
        i = n - max_per_dim;
      }
      rec(d + 1, base + i * strides[d]);
      if (i + 1 < n) os << (d + 1 == ndim() ? ", " : ",\n" + std::string(d + 1, ' '));
    }
    os << "]";
  };
  rec(0, 0);
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

// ---------------------------------------------------------------- checks

void check_defined(const Tensor& t, const char* op, const char* what) {
  ODEGAN_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  ODEGAN_CHECK(a.shape() == b.shape(), op, ": shape mismatch ", a.shape().str(), " vs ", b.shape().str());
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  ODEGAN_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch ", dtype_name(a.dtype()), " vs ",
               dtype_name(b.dtype()), " (shapes ", a.shape().str(), " and ", b.shape().str(), ")");
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  ODEGAN_CHECK(a.device() == b.device(), op, ": device mismatch ", a.device().str(), " vs ", b.device().str(),
               " (shapes ", a.shape().str(), " and ", b.shape().str(), ")");
}

void check_compatible(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op, "first operand");
  check_defined(b, op, "second operand");
  check_same_device(a, b, op);
  check_same_dtype(a, b, op);
}

void check_ndim(const Tensor& t, int ndim, const char* op, const char* what) {
  ODEGAN_CHECK(t.ndim() == ndim, op, ": ", what, " must have ", ndim, " dimensions, got ", t.shape().str());
}

}  // namespace odegan
