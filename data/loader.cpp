#include "data/loader.h"

#include <system_error>

namespace odegan::data {

Loader::Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, LoaderPosition start)
    : dataset_(std::move(dataset)), opt_(options), position_(start) {
  ODEGAN_CHECK(dataset_ != nullptr, "Loader: no dataset");
  ODEGAN_CHECK(opt_.batch > 0 && opt_.threads >= 0 && opt_.prefetch > 0, "Loader: bad options (batch ", opt_.batch,
               ", threads ", opt_.threads, ", prefetch ", opt_.prefetch, ")");
  per_epoch_ = dataset_->size() / opt_.batch;
  ODEGAN_CHECK(per_epoch_ > 0, "Loader: the ", dataset_->name(), " dataset has ", dataset_->size(),
               " samples, fewer than one batch of ", opt_.batch);
  ODEGAN_CHECK(start.epoch >= 0 && start.batch >= 0 && start.batch < per_epoch_, "Loader: bad start position (epoch ",
               start.epoch, ", batch ", start.batch, ")");
  if (opt_.shard_end < 0) opt_.shard_end = opt_.batch;
  ODEGAN_CHECK(opt_.shard_begin >= 0 && opt_.shard_begin < opt_.shard_end && opt_.shard_end <= opt_.batch,
               "Loader: bad shard [", opt_.shard_begin, ", ", opt_.shard_end, ") of a batch of ", opt_.batch);
  rows_ = opt_.shard_end - opt_.shard_begin;
  sample_numel_ = dataset_->sample_shape().numel();
  start_global_ = start.epoch * per_epoch_ + start.batch;
  try {
    for (int t = 0; t < opt_.threads; ++t) workers_.emplace_back([this] { worker(); });
  } catch (const std::system_error& e) {
    // Without this the destructor never runs and the joinable threads end in std::terminate.
    const size_t started = workers_.size();
    stop_workers();
    ODEGAN_FAIL("Loader: cannot start worker thread ", started + 1, " of ", opt_.threads, " (", e.what(),
                "); use fewer loader threads (--threads)");
  }
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_cv_.notify_all();
  ready_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

Loader::~Loader() { stop_workers(); }

const std::vector<int64_t>& Loader::permutation(int64_t epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = perms_.find(epoch);
  if (it != perms_.end()) return it->second;
  // Keep a few epochs: workers may straddle an epoch boundary.
  while (perms_.size() > 2) perms_.erase(perms_.begin());
  const int64_t n = dataset_->size();
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  if (opt_.shuffle) {
    Generator g(opt_.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    for (int64_t i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[g.next_below(static_cast<uint64_t>(i + 1))]);
  }
  return perms_.emplace(epoch, std::move(p)).first->second;
}

void Loader::build(int64_t k, Slot& slot) {
  const int64_t global = start_global_ + k;
  const int64_t epoch = global / per_epoch_, b = global % per_epoch_;
  const std::vector<int64_t> perm = permutation(epoch);  // a copy: the cache may drop it
  const int64_t n = dataset_->size(), batch = opt_.batch;
  slot.images.resize(static_cast<size_t>(rows_ * sample_numel_));
  slot.labels.resize(static_cast<size_t>(rows_));
  for (int64_t j = opt_.shard_begin; j < opt_.shard_end; ++j) {
    const int64_t row = j - opt_.shard_begin, first = b * batch + j;
    int64_t pos = first;
    for (int64_t tries = 0;; ++tries) {
      ODEGAN_CHECK(tries < n, "Loader: no decodable sample in the whole ", dataset_->name(), " dataset");
      const int64_t idx = perm[static_cast<size_t>(pos % n)];
      // Augmentation randomness depends only on (seed, epoch, sample): thread-independent.
      Generator aug(opt_.seed ^ 0xA5A5A5A5ull, static_cast<uint64_t>((epoch * n + idx) * 64));
      if (dataset_->get(idx, &slot.images[static_cast<size_t>(row * sample_numel_)],
                        &slot.labels[static_cast<size_t>(row)], &aug))
        break;
      ++skipped_;
      // An undecodable sample is replaced by probing the epoch's leftovers (and on) from a
      // start that depends only on the row's place in the epoch, never on other rows: the
      // same for any split of the batch.
      pos = per_epoch_ * batch + first * 17 + tries;
    }
  }
}

void Loader::worker() {
  for (;;) {
    int64_t k;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_cv_.wait(lock, [&] { return stop_ || next_to_build_ < consumed_ + opt_.prefetch; });
      if (stop_) return;
      k = next_to_build_++;
    }
    Slot slot;
    try {
      build(k, slot);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_[k] = std::move(slot);
    }
    ready_cv_.notify_all();
  }
}

ImageBatch Loader::next() {
  Slot slot;
  if (workers_.empty()) {
    build(consumed_, slot);
    ++consumed_;
  } else {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [&] { return ready_.count(consumed_) > 0; });
    slot = std::move(ready_[consumed_]);
    ready_.erase(consumed_);
    ++consumed_;
    lock.unlock();
    space_cv_.notify_all();
  }
  if (slot.error) std::rethrow_exception(slot.error);
  const int64_t global = start_global_ + consumed_;
  position_ = {global / per_epoch_, global % per_epoch_};
  Shape s = dataset_->sample_shape();
  ImageBatch out;
  if (opt_.device.is_cuda()) {
    if (!uploader_) uploader_ = std::make_unique<DeviceUploader>(opt_.device);
    out.images = uploader_->upload(slot.images.data(), {rows_, s[0], s[1], s[2]}, DType::f32);
    out.labels = uploader_->upload(slot.labels.data(), {rows_}, DType::i32);
    return out;
  }
  out.images = Tensor::from_vector(slot.images, {rows_, s[0], s[1], s[2]}).to(opt_.device);
  out.labels = Tensor::from_vector(slot.labels, {rows_}).to(opt_.device);
  return out;
}

}  // namespace odegan::data
