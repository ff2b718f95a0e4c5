// Host-to-device uploads without a host synchronisation: the bytes are copied into one of
// a few pinned (page-locked) staging buffers and sent with an asynchronous copy on the
// device's stream. A buffer is reused only once the copy that read it has completed (its
// event), so the caller may reuse its own memory at once. For data loaders: one per loader,
// used from one thread at a time. On the CPU an upload is a plain copy.
#pragma once
#include <cstddef>
#include <vector>

#include "core/tensor.h"

namespace odegan {

class DeviceUploader {
 public:
  explicit DeviceUploader(Device device, int buffers = 4);
  ~DeviceUploader();
  DeviceUploader(const DeviceUploader&) = delete;
  DeviceUploader& operator=(const DeviceUploader&) = delete;

  // A new tensor on the device holding shape.numel() values of `dtype` read from `src`.
  Tensor upload(const void* src, const Shape& shape, DType dtype);
  Device device() const { return device_; }

 private:
  struct Buffer {
    void* host = nullptr;  // pinned
    size_t capacity = 0;
    void* done = nullptr;  // cudaEvent_t recorded after the copy that read `host`
    bool pending = false;
  };
  void wait(Buffer& b);
  Device device_;
  std::vector<Buffer> buffers_;
  [[maybe_unused]] size_t next_ = 0;  // round robin over buffers_ (CUDA builds only)
};

}  // namespace odegan
