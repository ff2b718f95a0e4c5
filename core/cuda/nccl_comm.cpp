#if ODEGAN_WITH_NCCL
#include "core/cuda/nccl_comm.h"

#include <nccl.h>

#include "core/cuda/context.h"
#include "core/cuda/cuda_check.h"
#include "core/error.h"

namespace odegan {
namespace {

void nccl_check(ncclResult_t r, const char* what) {
  ODEGAN_CHECK(r == ncclSuccess, what, " failed: ", ncclGetErrorString(r));
}

ncclDataType_t nccl_type(DType t) {
  ODEGAN_CHECK(t == DType::f32 || t == DType::f64, "NCCL collectives take float32 or float64 tensors, got ",
               dtype_name(t));
  return t == DType::f32 ? ncclFloat32 : ncclFloat64;
}

}  // namespace

NcclComm::NcclComm(int rank, int size, int device, const std::function<void(void*, size_t)>& share_id)
    : device_(device) {
  ncclUniqueId id;
  if (rank == 0) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  share_id(&id, sizeof id);
  ODEGAN_CUDA_CHECK(cudaSetDevice(device));
  ncclComm_t c = nullptr;
  nccl_check(ncclCommInitRank(&c, size, id, rank), "ncclCommInitRank");
  comm_ = c;
}

NcclComm::~NcclComm() {
  if (comm_) ncclCommDestroy(static_cast<ncclComm_t>(comm_));
}

void NcclComm::all_reduce_sum(Tensor& t) {
  CudaContext& ctx = CudaContext::get(device_);
  ODEGAN_CUDA_CHECK(cudaSetDevice(device_));
  nccl_check(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()), ncclSum,
                           static_cast<ncclComm_t>(comm_), ctx.stream()),
             "ncclAllReduce");
}

void NcclComm::broadcast(Tensor& t, int root) {
  CudaContext& ctx = CudaContext::get(device_);
  ODEGAN_CUDA_CHECK(cudaSetDevice(device_));
  nccl_check(ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()), root,
                           static_cast<ncclComm_t>(comm_), ctx.stream()),
             "ncclBroadcast");
}

}  // namespace odegan
#endif  // ODEGAN_WITH_NCCL
