#include "core/comm.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/error.h"
#include "kernels/elementwise.h"

// Set by CMake for this file (0 or 1); other targets that compile it (the fuzzers' parser
// library) build the single-process communicator only.
#ifndef ODEGAN_WITH_MPI
#define ODEGAN_WITH_MPI 0
#endif
#ifndef ODEGAN_WITH_NCCL
#define ODEGAN_WITH_NCCL 0
#endif
#if ODEGAN_WITH_MPI
#include <mpi.h>
#endif
#if ODEGAN_WITH_NCCL
#include "core/cuda/nccl_comm.h"
#endif

namespace odegan {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  ODEGAN_CHECK(*end == '\0' && x >= 0 && x < (1 << 20), "environment variable ", name, "='", v,
               "' is not a rank count or index");
  return static_cast<int>(x);
}

// One process: every collective leaves the tensors as they are.
class SingleCommunicator final : public Communicator {
 public:
  void all_reduce_sum(Tensor&) override {}
  void broadcast(Tensor&, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
  std::string describe() const override { return "single process"; }
};

#if ODEGAN_WITH_MPI
void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  ODEGAN_FAIL(what, " failed: ", std::string(msg, static_cast<size_t>(len)));
}

MPI_Datatype mpi_type(DType t) {
  ODEGAN_CHECK(t == DType::f32 || t == DType::f64, "collectives take float32 or float64 tensors, got ", dtype_name(t));
  return t == DType::f32 ? MPI_FLOAT : MPI_DOUBLE;
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) mpi_check(MPI_Init(nullptr, nullptr), "MPI_Init");
    // Errors come back as codes (thrown as odegan::Error naming the call) instead of
    // MPI's default of aborting without a word about where.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    local_rank_ = env_int("OMPI_COMM_WORLD_LOCAL_RANK", env_int("MPI_LOCALRANKID", env_int("LOCAL_RANK", 0)));
    std::atexit([] {
      int finalised = 0;
      MPI_Finalized(&finalised);
      if (!finalised) MPI_Finalize();
    });
  }

  void all_reduce_sum(Tensor& t) override {
    check(t, "all_reduce");
    bytes_reduced_ += t.nbytes();
    struct Timer {  // CPU collectives are synchronous; NCCL's only enqueue (timed: the launch)
      double& total;
      std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
      ~Timer() { total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
    } timer{seconds_reducing_};
#if ODEGAN_WITH_NCCL
    if (t.device().is_cuda()) return nccl(t).all_reduce_sum(t);
#endif
    with_host_copy(t, [&](void* p) {
      // Reduce to rank 0, then broadcast: every rank gets the bits rank 0 summed.
      if (rank_ == 0)
        mpi_check(MPI_Reduce(MPI_IN_PLACE, p, count(t), mpi_type(t.dtype()), MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce");
      else
        mpi_check(MPI_Reduce(p, nullptr, count(t), mpi_type(t.dtype()), MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce");
      mpi_check(MPI_Bcast(p, count(t), mpi_type(t.dtype()), 0, MPI_COMM_WORLD), "MPI_Bcast");
    });
  }

  void broadcast(Tensor& t, int root) override {
    check(t, "broadcast");
#if ODEGAN_WITH_NCCL
    if (t.device().is_cuda()) return nccl(t).broadcast(t, root);
#endif
    with_host_copy(t, [&](void* p) {
      mpi_check(MPI_Bcast(p, count(t), mpi_type(t.dtype()), root, MPI_COMM_WORLD), "MPI_Bcast");
    });
  }

  void barrier() override { mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

  std::string describe() const override {
    return "MPI (" + std::to_string(size_) + " ranks" + (has_nccl() ? "; NCCL for CUDA tensors)" : ")");
  }

 private:
  static void check(const Tensor& t, const char* op) {
    ODEGAN_CHECK(t.defined(), op, ": needs a defined tensor");
    ODEGAN_CHECK(t.numel() < (int64_t(1) << 31), op, ": ", t.numel(), " values are more than one MPI call takes");
  }
  static int count(const Tensor& t) { return static_cast<int>(t.numel()); }
  // CPU tensors directly; CUDA tensors (without NCCL) through a host copy.
  template <class F>
  static void with_host_copy(Tensor& t, F&& f) {
    if (t.device().is_cpu()) return f(t.data_ptr());
    Tensor h = t.to(Device::cpu());
    f(h.data_ptr());
    t.copy_(h);
  }
#if ODEGAN_WITH_NCCL
  NcclComm& nccl(const Tensor& t) {
    std::lock_guard<std::mutex> lock(nccl_mutex_);
    if (!nccl_) {
      nccl_ = std::make_unique<NcclComm>(rank_, size_, t.device().index, [&](void* id, size_t bytes) {
        mpi_check(MPI_Bcast(id, static_cast<int>(bytes), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast (NCCL id)");
      });
    }
    ODEGAN_CHECK(nccl_->device() == t.device().index, "NCCL communicator is on cuda:", nccl_->device(),
                 ", the tensor on ", t.device().str());
    return *nccl_;
  }
  std::mutex nccl_mutex_;
  std::unique_ptr<NcclComm> nccl_;
#endif
};
#endif  // ODEGAN_WITH_MPI

}  // namespace

void Communicator::all_reduce_mean(Tensor& t) {
  if (size_ == 1) return;
  all_reduce_sum(t);
  kernels::axpby(0.0, t, 1.0 / size_, t);  // t = t / size
}

int launched_world_size() {
  return env_int("OMPI_COMM_WORLD_SIZE", env_int("PMI_SIZE", env_int("WORLD_SIZE", 1)));
}

std::shared_ptr<Communicator> Communicator::single() { return std::make_shared<SingleCommunicator>(); }

std::shared_ptr<Communicator> Communicator::from_environment() {
  static std::mutex m;
  static std::shared_ptr<Communicator> world;
  std::lock_guard<std::mutex> lock(m);
  if (world) return world;
  const int n = launched_world_size();
  if (n <= 1) return world = single();
#if ODEGAN_WITH_MPI
  world = std::make_shared<MpiCommunicator>();
  ODEGAN_CHECK(world->size() == n, "the launcher announced ", n, " ranks, MPI found ", world->size(),
               " (launch with mpirun or srun)");
  return world;
#else
  ODEGAN_FAIL("launched as ", n, " ranks, but this build has no MPI: install libopenmpi-dev (scripts/setup) and rebuild");
#endif
}

bool Communicator::has_mpi() { return ODEGAN_WITH_MPI; }
bool Communicator::has_nccl() { return ODEGAN_WITH_NCCL; }

}  // namespace odegan
