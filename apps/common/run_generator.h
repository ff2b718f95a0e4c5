// A trained generator opened from a run directory (config.json + a checkpoint), as
// odegan_sample and odegan_fid use it: the config's networks, the checkpoint's generator
// weights, eval mode, and a sampler of images in [-1, 1].
#pragma once
#include <string>

#include "apps/common/image_gan.h"
#include "core/rng.h"

namespace odegan::app {

struct RunGenerator {
  ImageGanConfig config;
  solvers::Players players;
  std::string checkpoint;  // the file the weights came from
  DType dtype = DType::f32;
  Device device = Device::cpu();

  // `count` images (count, C, H, W) in [-1, 1] from fresh noise drawn from `noise`; a
  // class-conditional generator gets labels (first_label + i) mod classes.
  Tensor sample(int64_t count, int64_t first_label, Generator& noise) const;
};

// Opens <run>/config.json and a checkpoint: `checkpoint` when given, else the one of step
// `steps` when >= 0, else the latest. Errors name the run, the checkpoint and the tensor.
RunGenerator load_run_generator(const std::string& run, const std::string& device, int64_t steps = -1,
                                const std::string& checkpoint = "");

}  // namespace odegan::app
