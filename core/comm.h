// Data parallelism: the few collectives training needs, in one place.
//
//   std::shared_ptr<Communicator> comm = Communicator::from_environment();
//   comm->all_reduce_mean(grads);        // every rank gets the mean of every rank's tensor
//
// Ranks come from the launcher's environment: Open MPI's mpirun (OMPI_COMM_WORLD_*),
// MPICH/Slurm's PMI (PMI_RANK, PMI_SIZE) or torchrun-style RANK / WORLD_SIZE /
// LOCAL_RANK (then MPI still does the rendezvous, so launch through mpirun or srun). With
// one rank (no launcher) nothing is initialised and every collective is a no-op: a program
// that is not launched in parallel needs no MPI at all.
//
// Backends: MPI (Open MPI, Debian's libopenmpi-dev) for CPU tensors; NCCL for CUDA tensors,
// its communicator created on first use with the unique id broadcast through MPI. The
// results are bitwise identical on every rank (MPI: reduce to rank 0, then broadcast, so no
// rank sums in another order; NCCL's ring gives every rank the same bits), so replicas that
// apply the same update to the same state stay identical without ever comparing them.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace odegan {

class Communicator {
 public:
  virtual ~Communicator() = default;
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  bool is_root() const { return rank_ == 0; }

  // In place, over a contiguous float tensor on any device: the sum / the mean over ranks.
  virtual void all_reduce_sum(Tensor& t) = 0;
  void all_reduce_mean(Tensor& t);
  // Overlapping all-reduces with compute. start_all_reduce_sum() begins the sum over ranks
  // of t in place, which must not be touched until wait_all() has returned; progress() moves
  // started ones along (MPI progresses non-blocking collectives only inside MPI calls, so a
  // caller calls it between pieces of work); wait_all() returns when every started one is
  // done (for CUDA tensors: when the device's stream will see them done). Every rank must
  // start the same sequence of tensors. The results are the bits all_reduce_sum gives. This
  // default reduces at once.
  virtual void start_all_reduce_sum(const Tensor& t) {
    Tensor u = t;
    all_reduce_sum(u);
  }
  virtual void progress() {}
  virtual void wait_all() {}
  // In place: every rank gets root's tensor.
  virtual void broadcast(Tensor& t, int root = 0) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job now (after this rank printed why): the way out of an error
  // on one rank while the others wait in a collective.
  [[noreturn]] virtual void abort(int code) = 0;
  // "MPI (2 ranks)", "single process".
  virtual std::string describe() const = 0;
  // Bytes this process has passed to all-reduces, and the seconds it spent in them
  // (waiting for slower ranks included): what overlapping them with compute could save.
  size_t bytes_reduced() const { return bytes_reduced_; }
  double seconds_reducing() const { return seconds_reducing_; }

  // The world this process was launched into (created once; later calls return it). With
  // one rank: a communicator whose collectives do nothing. A launch of several ranks in a
  // build without MPI is an error saying so.
  static std::shared_ptr<Communicator> from_environment();
  // The single-process communicator (tests; programs that must not join a world).
  static std::shared_ptr<Communicator> single();
  // A one-rank NCCL communicator on cuda:`device` (no MPI): its collectives over CUDA
  // tensors are real NCCL calls that leave the values as they are. For checking the NCCL
  // backend on a machine with one GPU (tests, scripts/gpu-check). An error in a build
  // without NCCL.
  static std::shared_ptr<Communicator> nccl_single(int device);
  // Whether this build has the MPI (CPU) and NCCL (CUDA) backends.
  static bool has_mpi();
  static bool has_nccl();

 protected:
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  size_t bytes_reduced_ = 0;
  double seconds_reducing_ = 0;
};

// All-reduces (the mean over ranks) a flat gradient buffer in buckets while the backward
// pass that fills it is still running, as PyTorch's DDP does. The buffer holds the gradients
// of consecutive parameters (sizes[i] values each); a bucket is a run of consecutive
// parameters of about `bucket_bytes`, gathered from the last parameter of a group (which
// backward finishes first) towards the first; buckets never cross a group boundary.
//
//   GradientBuckets b(sizes, {n_theta_params}, 4 << 20, sizeof(float));
//   b.begin(comm, flat, 0, sizes.size());     // a pass over every parameter
//   BackwardOptions o;                         // (autodiff/engine.h)
//   o.inputs = params;
//   o.on_input_ready = [&](size_t i) { b.ready(i); };
//   backward(loss, o);
//   b.finish();                                // flat is now the mean over ranks
//
// A bucket starts once all of its parameters are ready; finish() starts the rest (e.g.
// parameters the loss does not reach, whose zeros still take part), waits and divides by
// the number of ranks: the bits of comm.all_reduce_mean over the whole range on two ranks.
// With one rank every call does nothing.
class GradientBuckets {
 public:
  GradientBuckets() = default;
  // `groups`: indices at which a new group of parameters starts (e.g. the generator's first).
  GradientBuckets(const std::vector<int64_t>& sizes, const std::vector<size_t>& groups, size_t bucket_bytes,
                  size_t element_bytes);
  size_t num_buckets() const { return buckets_.size(); }
  // [first, last) parameters of bucket k, in parameter order (for tests and logs).
  std::pair<size_t, size_t> bucket(size_t k) const { return {buckets_[k].first, buckets_[k].last}; }

  // A pass reducing parameters [first, last) of `flat` (the whole buffer) over `comm`;
  // [first, last) must be a union of whole buckets.
  void begin(Communicator& comm, const Tensor& flat, size_t first, size_t last);
  // Parameter i's gradient is final: starts its bucket if that completes it, and lets
  // started ones progress.
  void ready(size_t i);
  void finish();
  bool active() const { return comm_ != nullptr; }

 private:
  struct Bucket {
    size_t first, last;     // parameters
    int64_t begin, end;     // values in the flat buffer
    size_t waiting = 0;     // parameters not yet ready in this pass
    bool started = false;
  };
  void start(Bucket& b);
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;  // parameter -> bucket
  Communicator* comm_ = nullptr;
  Tensor flat_;
  size_t first_ = 0, last_ = 0;
};

// The number of ranks the launcher's environment announces (1 when none), without
// initialising anything.
int launched_world_size();

}  // namespace odegan
