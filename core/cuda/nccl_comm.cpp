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
  if (ready_) cudaEventDestroy(static_cast<cudaEvent_t>(ready_));
  if (done_) cudaEventDestroy(static_cast<cudaEvent_t>(done_));
  if (side_stream_) cudaStreamDestroy(static_cast<cudaStream_t>(side_stream_));
}

void NcclComm::start_all_reduce_sum(const Tensor& t) {
  CudaContext& ctx = CudaContext::get(device_);
  ODEGAN_CUDA_CHECK(cudaSetDevice(device_));
  if (!side_stream_) {
    cudaStream_t s = nullptr;
    cudaEvent_t a = nullptr, b = nullptr;
    ODEGAN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    ODEGAN_CUDA_CHECK(cudaEventCreateWithFlags(&a, cudaEventDisableTiming));
    ODEGAN_CUDA_CHECK(cudaEventCreateWithFlags(&b, cudaEventDisableTiming));
    side_stream_ = s, ready_ = a, done_ = b;
  }
  auto side = static_cast<cudaStream_t>(side_stream_);
  auto ready = static_cast<cudaEvent_t>(ready_);
  // The gradients in t were written by kernels queued on the device's stream.
  ODEGAN_CUDA_CHECK(cudaEventRecord(ready, ctx.stream()));
  ODEGAN_CUDA_CHECK(cudaStreamWaitEvent(side, ready, 0));
  nccl_check(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                           nccl_type(t.dtype()), ncclSum, static_cast<ncclComm_t>(comm_), side),
             "ncclAllReduce");
  started_ = true;
}

void NcclComm::wait() {
  if (!started_) return;
  ODEGAN_CUDA_CHECK(cudaSetDevice(device_));
  after_started();
  started_ = false;
}

void NcclComm::after_started() {
  // Collectives of one communicator must run in the order they were issued on every rank
  // (NCCL kernels of one communicator on two streams can otherwise wait on each other): one
  // on the device's stream (synchronised batch norm inside a backward pass) comes after the
  // started ones.
  if (!started_) return;
  auto done = static_cast<cudaEvent_t>(done_);
  ODEGAN_CUDA_CHECK(cudaEventRecord(done, static_cast<cudaStream_t>(side_stream_)));
  ODEGAN_CUDA_CHECK(cudaStreamWaitEvent(CudaContext::get(device_).stream(), done, 0));
}

void NcclComm::all_reduce_sum(Tensor& t) {
  CudaContext& ctx = CudaContext::get(device_);
  ODEGAN_CUDA_CHECK(cudaSetDevice(device_));
  after_started();
  nccl_check(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()), ncclSum,
                           static_cast<ncclComm_t>(comm_), ctx.stream()),
             "ncclAllReduce");
}

void NcclComm::broadcast(Tensor& t, int root) {
  CudaContext& ctx = CudaContext::get(device_);
  ODEGAN_CUDA_CHECK(cudaSetDevice(device_));
  after_started();
  nccl_check(ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()), root,
                           static_cast<ncclComm_t>(comm_), ctx.stream()),
             "ncclBroadcast");
}

}  // namespace odegan
#endif  // ODEGAN_WITH_NCCL
