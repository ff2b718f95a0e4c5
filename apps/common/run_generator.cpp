#include "apps/common/run_generator.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "apps/common/training.h"
#include "autodiff/var.h"
#include "core/safetensors.h"

namespace odegan::app {

RunGenerator load_run_generator(const std::string& run, const std::string& device, int64_t steps,
                                const std::string& checkpoint) {
  const std::string config = run + "/config.json";
  ODEGAN_CHECK(std::filesystem::exists(config), "--run ", run, ": no config.json (not a run directory)");
  RunGenerator r;
  r.config = ImageGanConfig::from_json(read_json(config), config);
  r.config.device = device;
  r.device = Device::parse(device);
  r.dtype = r.config.dtype == "float64" ? DType::f64 : DType::f32;
  r.players = build_players(r.config, r.dtype, r.device);
  r.checkpoint = checkpoint;
  if (r.checkpoint.empty()) {
    if (steps >= 0) {
      char name[64];
      std::snprintf(name, sizeof name, "/checkpoints/ckpt-%09lld.safetensors", static_cast<long long>(steps));
      r.checkpoint = run + name;
      ODEGAN_CHECK(std::filesystem::exists(r.checkpoint), "--steps ", steps, ": no checkpoint ", r.checkpoint);
    } else {
      r.checkpoint = latest_checkpoint_path(run + "/checkpoints");
      ODEGAN_CHECK(!r.checkpoint.empty(), "no checkpoints in ", run, "/checkpoints");
    }
  }
  load_player(read_checkpoint(r.checkpoint), "generator", *r.players.generator);  // either format
  r.players.generator->eval();
  return r;
}

Tensor RunGenerator::sample(int64_t count, int64_t first_label, Generator& noise) const {
  Tensor z = Tensor::empty({count, config.latent}, dtype, device);
  fill_normal(z, noise);
  Tensor y;
  if (config.arch == "imagenet_resnet" && config.conditional) {
    std::vector<int32_t> labels(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i)
      labels[static_cast<size_t>(i)] = static_cast<int32_t>((first_label + i) % config.num_classes);
    y = Tensor::from_vector(labels, {count}).to(device);
  }
  ad::NoGradGuard no_grad;
  return players.generate(ad::Var(z), y).data();
}

}  // namespace odegan::app
