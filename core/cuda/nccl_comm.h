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

 private:
  void* comm_ = nullptr;  // ncclComm_t
  int device_ = 0;
};

}  // namespace odegan
