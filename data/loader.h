// Batches from a Dataset: a seeded permutation per epoch, background worker threads that
// decode and assemble batches ahead of the consumer (in order, so the same seed gives the
// same batches whatever the number of threads), and delivery on a device. Its position
// (epoch, batch) is part of checkpoints, so training resumes on exactly the same data.
#pragma once
#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/staging.h"
#include "core/tensor.h"
#include "data/dataset.h"

namespace odegan::data {

struct LoaderOptions {
  int64_t batch = 64;
  uint64_t seed = 0;
  int threads = 2;       // background workers (0: assemble on the caller's thread)
  int prefetch = 4;      // batches ready ahead of the consumer
  Device device = Device::cpu();
  bool shuffle = true;
  // Data parallelism: this loader builds only rows [shard_begin, shard_end) of every
  // global batch of `batch` (-1: to the end); the global batches, their order and every
  // row's sample do not depend on how the batch is split.
  int64_t shard_begin = 0, shard_end = -1;
};

struct ImageBatch {
  Tensor images;  // (N, C, H, W) float32 in [-1, 1], on the loader's device
  Tensor labels;  // (N) int32, on the loader's device
};

struct LoaderPosition {
  int64_t epoch = 0;
  int64_t batch = 0;  // batches consumed within the epoch
};

class Loader {
 public:
  Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, LoaderPosition start = {});
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next batch (blocks until ready). Errors from workers are rethrown here.
  ImageBatch next();
  // Where the next call to next() reads from.
  LoaderPosition position() const { return position_; }
  int64_t batches_per_epoch() const { return per_epoch_; }
  // Samples skipped because they could not be decoded (replaced by the next ones).
  int64_t skipped() const { return skipped_.load(); }
  const Dataset& dataset() const { return *dataset_; }

 private:
  struct Slot {
    std::vector<float> images;
    std::vector<int32_t> labels;
    std::exception_ptr error;
  };
  void worker();
  void stop_workers();
  void build(int64_t global, Slot& slot);
  const std::vector<int64_t>& permutation(int64_t epoch);

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions opt_;
  LoaderPosition position_;
  int64_t per_epoch_ = 0, sample_numel_ = 0, rows_ = 0;
  int64_t start_global_ = 0, consumed_ = 0, next_to_build_ = 0;
  std::atomic<int64_t> skipped_{0};

  std::mutex mutex_;
  std::condition_variable ready_cv_, space_cv_;
  std::map<int64_t, Slot> ready_;
  std::map<int64_t, std::vector<int64_t>> perms_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
  // Pinned staging for batches delivered on a GPU (asynchronous copies, no sync).
  std::unique_ptr<DeviceUploader> uploader_;
};

}  // namespace odegan::data
