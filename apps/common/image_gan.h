// The image-GAN training loop shared by odegan_cifar10 and odegan_imagenet (and the model
// construction odegan_sample reuses): flags -> config -> models -> game -> steps, with a
// run directory holding config.json, metrics.jsonl / metrics.csv, samples/*.png from a
// fixed noise batch, losses.png and checkpoints/ (resumable bit-exactly on the CPU).
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "apps/common/quality_eval.h"
#include "apps/common/run.h"
#include "layers/module.h"
#include "solvers/gan_game.h"

namespace odegan::app {

struct ImageGanConfig {
  // data
  std::string data;             // dataset path (required)
  std::string format = "cifar10";
  int64_t image_size = 32;
  int64_t channels = 3;         // image channels (1 for IDX); set from the dataset
  int64_t num_classes = 0;      // > 0: class-conditional models (set from the dataset)
  int threads = 2;
  bool random_crop = false, random_flip = false;
  double max_skipped_fraction = 0.01;  // image folders: unreadable files tolerated (not in config.json)
  // models
  std::string arch = "dcgan";   // dcgan | resnet | imagenet_resnet
  double width = 1.0;           // channel multiplier (dcgan, resnet)
  int64_t ch = 64;              // imagenet_resnet base channels
  int64_t latent = 128;
  int logits = 1;               // dcgan: 1, or 2 as the reference code
  bool conditional = false;     // imagenet_resnet: class-conditional
  std::string init = "reference";
  // method
  std::string method = "rk4";   // a name from solvers/stepper.h's registry
  double h = 0.04;
  std::string schedule = "reference";  // reference (h/4 to step 500, h, h/2 after 400k) | constant
  double lambda = 0.02;
  std::string loss = "non_saturating";
  bool shared_batches = false;  // default: fresh data and noise for every stage (reference code)
  bool per_player = false;
  double adam_lr = 2e-4, adam_beta1 = 0.0, adam_beta2 = 0.9;
  int n_dis = 5;
  double rtol = 1e-3, atol = 1e-6;  // adaptive and implicit methods
  int max_iterations = 20;          // implicit methods
  std::string implicit_solver = "fixed_point";  // implicit methods: fixed_point | newton
  int krylov = 10;                  // implicit methods with newton: GMRES iterations
  bool spectral_norm = false;   // forced on by the sngan method
  bool sync_bn = false;         // several ranks: batch norm over the global batch (default: per rank)
  double bucket_mb = 0;         // several ranks: overlap all-reduces with backward (not in config.json)
  // run
  std::string out;
  std::string device = "auto";
  int64_t steps = 1200000;
  int64_t batch = 64;
  uint64_t seed = 0;
  int64_t log_every = 10, sample_every = 1000, checkpoint_every = 5000, error_every = 0;
  bool resume = false;
  std::string dtype = "float32";
  QualityEvalConfig quality;    // --eval-every ...: FD / FID during training

  nlohmann::json to_json() const;
  // Every key optional (defaults above); a key of the wrong type or out of range is an
  // odegan::Error naming `source` and the key (never another exception).
  static ImageGanConfig from_json(const nlohmann::json& j, const std::string& source = "config");
};
// The fields config.json holds, listed once (not resume, max_skipped_fraction, bucket_mb: flags of
// one start only).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ImageGanConfig, data, format, image_size, channels, num_classes, threads,
                                                random_crop, random_flip, arch, width, ch, latent, logits, conditional,
                                                init, method, h, schedule, lambda, loss, shared_batches, per_player,
                                                adam_lr, adam_beta1, adam_beta2, n_dis, rtol, atol, max_iterations,
                                                implicit_solver, krylov, spectral_norm, sync_bn, out, device, steps, batch, seed,
                                                log_every, sample_every, checkpoint_every, error_every, dtype, quality)


// Adds the shared flags to a CLI parser (defaults from `c`).
void add_image_gan_flags(CLI::App& cli, ImageGanConfig& c);
// Adds one of the per-program flags (--arch, --logits, --ch) with its range check.
CLI::Option* add_checked_option(CLI::App& cli, const std::string& flag, ImageGanConfig& c);

// The two players for a config (initialised with the config's seed, on its device).
solvers::Players build_players(const ImageGanConfig& c, DType dtype, Device device);

// Step size at a step under the config's schedule.
double step_size(const ImageGanConfig& c, int64_t step);

// Runs (or resumes) training; returns the process exit code.
int train_image_gan(ImageGanConfig c, const std::string& program);

}  // namespace odegan::app
