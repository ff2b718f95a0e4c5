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
  // Whether this build has the MPI (CPU) and NCCL (CUDA) backends.
  static bool has_mpi();
  static bool has_nccl();

 protected:
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  size_t bytes_reduced_ = 0;
  double seconds_reducing_ = 0;
};

// The number of ranks the launcher's environment announces (1 when none), without
// initialising anything.
int launched_world_size();

}  // namespace odegan
