// A dataset of images with integer labels, read by the Loader. Implementations: CIFAR-10
// binary files, IDX (MNIST family), and image folders (ImageNet layout).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/rng.h"
#include "core/shape.h"

namespace odegan::data {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // (C, H, W) of every sample.
  virtual Shape sample_shape() const = 0;
  virtual int64_t num_classes() const = 0;
  // Writes sample i as C*H*W floats in [-1, 1] and its label. Returns false when the
  // sample cannot be read (an undecodable image: the loader skips and counts it); any
  // other problem throws odegan::Error naming the file. `aug` (may be null) drives random
  // augmentation; it is seeded per sample, so results do not depend on thread timing.
  virtual bool get(int64_t i, float* out, int32_t* label, Generator* aug) const = 0;
  // Where sample i comes from (for messages).
  virtual std::string where(int64_t i) const = 0;
  virtual std::string name() const = 0;
  // What a user should know about the data before training (e.g. files skipped at open);
  // empty when there is nothing to say. Apps print it at start.
  virtual std::string report() const { return {}; }
};

// Opens a dataset by format: "cifar10" (a directory of CIFAR-10 .bin files), "idx" (a
// directory or an IDX images file, gzip or raw), or "folder" (root/<class>/<images>).
struct DatasetOptions {
  std::string format = "cifar10";
  std::string split = "train";  // cifar10 / idx: train or test
  int64_t image_size = 32;      // output side (idx: pad 28 -> 32 or resize; folder: resize)
  int channels = 3;             // folder: 1 or 3
  bool random_crop = false;     // folder: random square crop instead of the centre
  bool random_flip = false;     // folder: horizontal flips
  double max_skipped_fraction = 0.01;  // folder: unreadable image files tolerated (0..1)
};
std::unique_ptr<Dataset> open_dataset(const std::string& path, const DatasetOptions& options);

}  // namespace odegan::data
