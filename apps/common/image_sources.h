// Where the images a quality measurement looks at come from (apps/common/quality.h's
// ImageSource): a dataset (all of it, or a seeded random subset), a flat folder of image
// files (as odegan_sample writes them), or a trained generator.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "apps/common/quality.h"
#include "apps/common/run_generator.h"
#include "data/dataset.h"

namespace odegan::app {

struct NamedSource {
  ImageSource source;
  int64_t available = -1;  // images the source holds (-1: unlimited, a generator)
  std::string description;  // for logs and JSON: "dataset cifar10 /data/cifar (train)", ...
};

// n images of a dataset: all of them in order when n >= size (n is then the size), else a
// random subset of n drawn with `seed` (without replacement). Unreadable samples are errors.
NamedSource dataset_source(std::shared_ptr<data::Dataset> dataset, int64_t n, uint64_t seed,
                           const std::string& description);

// The image files directly in `dir` (jpeg, jpg, png, bmp; sorted by name), decoded with
// `channels` channels at their own size, which must be the same for all.
NamedSource folder_source(const std::string& dir, int channels);

// Images from a run's generator, noise drawn from one stream seeded by `seed`.
NamedSource generator_source(std::shared_ptr<const RunGenerator> generator, uint64_t seed);

}  // namespace odegan::app
