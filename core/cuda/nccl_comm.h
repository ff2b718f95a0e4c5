// The NCCL side of core/comm.h: collectives over CUDA tensors on this device's stream.
// Built when CUDA and NCCL (nccl.h, libnccl) are found (ODEGAN_WITH_NCCL).
#pragma once
#include <cstddef>
#include <functional>

#include "core/tensor.h"

namespace odegan {

class NcclComm {
 public:
  // `share_id(bytes, n)` must give every rank rank 0's n bytes (an MPI broadcast): the
  // unique id rank 0 draws.
  NcclComm(int rank, int size, int device, const std::function<void(void* bytes, size_t n)>& share_id);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
  int device() const { return device_; }
  void all_reduce_sum(Tensor& t);
  void broadcast(Tensor& t, int root);
  // Overlap: the all-reduce runs on a stream of its own once the work queued so far on the
  // device's stream is done, so kernels queued after it (the rest of the backward pass) run
  // beside it; wait() makes the device's stream wait for every started one.
  void start_all_reduce_sum(const Tensor& t);
  void wait();

 private:
  void after_started();  // the device's stream waits for every started one
  void* comm_ = nullptr;  // ncclComm_t
  int device_ = 0;
  void* side_stream_ = nullptr;  // cudaStream_t, created on first start
  void* ready_ = nullptr;        // cudaEvent_t: the device stream reached the start
  void* done_ = nullptr;         // cudaEvent_t: the side stream finished
  bool started_ = false;
};

}  // namespace odegan
