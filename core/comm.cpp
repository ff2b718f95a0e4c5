#include "core/comm.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
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
    // Overlapped all-reduces (start_all_reduce_sum) reduce on one duplicate of the world
    // and broadcast on another, so each communicator sees its collectives in one order on
    // every rank however their completions interleave.
    mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &reduce_comm_), "MPI_Comm_dup");
    mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &bcast_comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(reduce_comm_, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(bcast_comm_, MPI_ERRORS_RETURN);
    std::atexit([] {
      int finalised = 0;
      MPI_Finalized(&finalised);
      if (!finalised) MPI_Finalize();
    });
  }

  void all_reduce_sum(Tensor& t) override {
    check(t, "all_reduce");
    // Overlapped ones may be pending (synchronised batch norm reduces inside the backward
    // pass whose buckets are on their way): they run on communicators of their own.
    bytes_reduced_ += t.nbytes();
    Timer timer{seconds_reducing_};
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

  // Reduce to rank 0 (non-blocking), then, in the order they were started, broadcast: the
  // bits all_reduce_sum gives. Every call of progress() tests each pending one once.
  void start_all_reduce_sum(const Tensor& t) override {
    check(t, "all_reduce");
#if ODEGAN_WITH_NCCL
    if (t.device().is_cuda()) {
      Timer timer{seconds_reducing_};
      bytes_reduced_ += t.nbytes();
      nccl(t).start_all_reduce_sum(t);
      nccl_started_ = true;
      return;
    }
#endif
    if (!t.device().is_cpu()) return Communicator::start_all_reduce_sum(t);  // through a host copy, now
    Timer timer{seconds_reducing_};
    bytes_reduced_ += t.nbytes();
    Pending p{t, MPI_REQUEST_NULL, Pending::reducing};
    void* data = t.data_ptr();
    if (rank_ == 0)
      mpi_check(MPI_Ireduce(MPI_IN_PLACE, data, count(t), mpi_type(t.dtype()), MPI_SUM, 0, reduce_comm_, &p.request),
                "MPI_Ireduce");
    else
      mpi_check(MPI_Ireduce(data, nullptr, count(t), mpi_type(t.dtype()), MPI_SUM, 0, reduce_comm_, &p.request),
                "MPI_Ireduce");
    pending_.push_back(std::move(p));
    advance();
  }

  void progress() override {
    if (pending_.empty()) return;
    Timer timer{seconds_reducing_};
    advance();
  }

  void wait_all() override {
    Timer timer{seconds_reducing_};
    while (!pending_.empty()) {
      // The oldest is reducing or broadcasting (one that has reduced is broadcast at once
      // when all before it are): block on it rather than spin.
      mpi_check(MPI_Wait(&pending_.front().request, MPI_STATUS_IGNORE), "MPI_Wait (all-reduce)");
      pending_.front().stage = pending_.front().stage == Pending::reducing ? Pending::reduced : Pending::done;
      advance();
    }
#if ODEGAN_WITH_NCCL
    if (nccl_started_) nccl_->wait();
    nccl_started_ = false;
#endif
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
  // Time in collectives: CPU ones are synchronous; NCCL's only enqueue (timed: the launch).
  struct Timer {
    double& total;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    ~Timer() { total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
  };
  struct Pending {
    Tensor t;  // keeps the storage alive until done
    MPI_Request request;
    enum Stage { reducing, reduced, broadcasting, done } stage;
  };
  // Tests each pending all-reduce once; broadcasts those reduced in start order; drops the
  // finished ones from the front.
  void advance() {
    bool in_order = true;  // every earlier one is broadcasting or done
    for (Pending& p : pending_) {
      if (p.stage == Pending::reducing || p.stage == Pending::broadcasting) {
        int flag = 0;
        mpi_check(MPI_Test(&p.request, &flag, MPI_STATUS_IGNORE), "MPI_Test (all-reduce)");
        if (flag) p.stage = p.stage == Pending::reducing ? Pending::reduced : Pending::done;
      }
      if (p.stage == Pending::reduced && in_order) {
        mpi_check(MPI_Ibcast(p.t.data_ptr(), count(p.t), mpi_type(p.t.dtype()), 0, bcast_comm_, &p.request),
                  "MPI_Ibcast");
        p.stage = Pending::broadcasting;
      }
      in_order = in_order && (p.stage == Pending::broadcasting || p.stage == Pending::done);
    }
    while (!pending_.empty() && pending_.front().stage == Pending::done) pending_.pop_front();
  }
  MPI_Comm reduce_comm_ = MPI_COMM_NULL, bcast_comm_ = MPI_COMM_NULL;
  std::deque<Pending> pending_;
  bool nccl_started_ = false;
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

GradientBuckets::GradientBuckets(const std::vector<int64_t>& sizes, const std::vector<size_t>& groups,
                                 size_t bucket_bytes, size_t element_bytes) {
  ODEGAN_CHECK(bucket_bytes > 0 && element_bytes > 0, "GradientBuckets: bucket size must be positive");
  std::vector<size_t> bounds = {0};
  for (size_t g : groups) {
    ODEGAN_CHECK(g > bounds.back() && g < sizes.size(), "GradientBuckets: group boundaries must increase inside the ",
                 sizes.size(), " parameters, got ", g);
    bounds.push_back(g);
  }
  bounds.push_back(sizes.size());
  std::vector<int64_t> offset(sizes.size() + 1, 0);
  for (size_t i = 0; i < sizes.size(); ++i) offset[i + 1] = offset[i] + sizes[i];
  bucket_of_.assign(sizes.size(), 0);
  // Each group from its last parameter back: the order backward finishes them.
  for (size_t g = bounds.size() - 1; g-- > 0;) {
    size_t last = bounds[g + 1];
    while (last > bounds[g]) {
      size_t first = last - 1;
      while (first > bounds[g] &&
             static_cast<size_t>(offset[last] - offset[first]) * element_bytes < bucket_bytes)
        --first;
      for (size_t i = first; i < last; ++i) bucket_of_[i] = buckets_.size();
      buckets_.push_back({first, last, offset[first], offset[last]});
      last = first;
    }
  }
}

void GradientBuckets::begin(Communicator& comm, const Tensor& flat, size_t first, size_t last) {
  ODEGAN_CHECK(comm_ == nullptr, "GradientBuckets: begin() while a pass is running (finish() it first)");
  if (comm.size() == 1) return;
  ODEGAN_CHECK(first < last && last <= bucket_of_.size() && (first == 0 || bucket_of_[first - 1] != bucket_of_[first]) &&
                   (last == bucket_of_.size() || bucket_of_[last - 1] != bucket_of_[last]),
               "GradientBuckets: parameters [", first, ", ", last, ") are not whole buckets");
  comm_ = &comm;
  flat_ = flat;
  first_ = first, last_ = last;
  for (size_t k = bucket_of_[last - 1]; k <= bucket_of_[first] && k < buckets_.size(); ++k) {
    buckets_[k].waiting = buckets_[k].last - buckets_[k].first;
    buckets_[k].started = false;
  }
}

void GradientBuckets::start(Bucket& b) {
  b.started = true;
  comm_->start_all_reduce_sum(flat_.slice(b.begin, b.end));
}

void GradientBuckets::ready(size_t i) {
  if (!comm_) return;
  ODEGAN_CHECK(i >= first_ && i < last_, "GradientBuckets: parameter ", i, " is outside this pass's [", first_, ", ",
               last_, ")");
  Bucket& b = buckets_[bucket_of_[i]];
  ODEGAN_CHECK(b.waiting > 0, "GradientBuckets: parameter ", i, " announced twice");
  if (--b.waiting == 0) start(b);
  comm_->progress();
}

void GradientBuckets::finish() {
  if (!comm_) return;
  // Buckets some of whose parameters were never announced, in the order of the groups'
  // backward (the same on every rank).
  for (size_t k = bucket_of_[last_ - 1]; k <= bucket_of_[first_]; ++k)
    if (!buckets_[k].started) start(buckets_[k]);
  comm_->wait_all();
  Tensor range = flat_.slice(buckets_[bucket_of_[first_]].begin, buckets_[bucket_of_[last_ - 1]].end);
  kernels::axpby(0.0, range, 1.0 / comm_->size(), range);  // as all_reduce_mean
  comm_ = nullptr;
  flat_ = Tensor();
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

#if ODEGAN_WITH_NCCL
namespace {
class NcclSingleCommunicator final : public Communicator {
 public:
  explicit NcclSingleCommunicator(int device) : nccl_(0, 1, device, [](void*, size_t) {}) {}
  void all_reduce_sum(Tensor& t) override { nccl_.all_reduce_sum(checked(t)); }
  void start_all_reduce_sum(const Tensor& t) override {
    Tensor u = t;
    nccl_.start_all_reduce_sum(checked(u));
  }
  void wait_all() override { nccl_.wait(); }
  void broadcast(Tensor& t, int root) override { nccl_.broadcast(checked(t), root); }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
  std::string describe() const override { return "NCCL (1 rank, cuda:" + std::to_string(nccl_.device()) + ")"; }

 private:
  Tensor& checked(Tensor& t) const {
    ODEGAN_CHECK(t.defined() && t.device().is_cuda() && t.device().index == nccl_.device(),
                 "the one-rank NCCL communicator takes tensors on cuda:", nccl_.device());
    return t;
  }
  NcclComm nccl_;
};
}  // namespace
#endif

std::shared_ptr<Communicator> Communicator::nccl_single(int device) {
#if ODEGAN_WITH_NCCL
  return std::make_shared<NcclSingleCommunicator>(device);
#else
  (void)device;
  ODEGAN_FAIL("this build has no NCCL (it needs CUDA and nccl.h / libnccl at configure time)");
#endif
}

bool Communicator::has_mpi() { return ODEGAN_WITH_MPI; }
bool Communicator::has_nccl() { return ODEGAN_WITH_NCCL; }

}  // namespace odegan
