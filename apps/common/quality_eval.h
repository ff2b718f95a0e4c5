// Image quality measured during training (--eval-every N --eval-samples K): every N steps
// the generator (eval mode, a fixed noise) makes K images, a feature network scores them
// against reference statistics of the real data -- FD-FMNIST with --classifier FILE -- and
// the result goes to metrics.jsonl (a line with "step" and "fd"), quality.png (the curve)
// and quality.json (every evaluation, and the best and final scores, as the paper's
// Table 1 reports them). With --inception FILE the network is pytorch-fid's Inception-v3
// and the line holds "fid", "is" and "is_std" instead.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/common/quality.h"
#include "data/dataset.h"
#include "solvers/gan_game.h"

namespace odegan::app {

// IS is reported over the standard 10 splits of the samples.
constexpr int kInceptionScoreSplits = 10;

struct QualityEvalConfig {
  int64_t every = 0;         // steps between evaluations (0: off)
  int64_t samples = 5000;    // generated images per evaluation
  int64_t ref_samples = 10000;  // real images for the reference statistics (when computed)
  std::string classifier;    // FD-FMNIST: odegan_classifier weights
  std::string inception;     // FID and IS: pytorch-fid's Inception (scripts/convert_inception.py)
  std::string ref_stats;     // reference statistics file (default: computed from the training data)

  bool enabled() const { return every > 0; }
  // Checks the flags together: K >= 2 (>= 10 for IS), one feature network when enabled,
  // files exist.
  void validate() const;
  nlohmann::json to_json() const;
  // Missing keys: defaults; a wrong type is an odegan::Error naming `source` and the key.
  static QualityEvalConfig from_json(const nlohmann::json& j, const std::string& source = "config");
};
// The JSON fields of QualityEvalConfig (config.json's "quality"), listed once.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(QualityEvalConfig, every, samples, ref_samples, classifier, inception,
                                                ref_stats)


void add_quality_flags(CLI::App& cli, QualityEvalConfig& c);

// Builds the feature network named by the config on a device.
std::unique_ptr<FeatureExtractor> make_feature_extractor(const QualityEvalConfig& c, Device device);

// Images from a generator in eval mode (batch-norm running statistics; train mode is restored
// after each batch) for a fixed noise drawn from `seed`, read in order from image 0: the
// same images at every evaluation. num_classes > 0: class-conditional, labels i % classes.
ImageSource generator_images(solvers::Players& players, int64_t latent, int64_t num_classes, DType dtype,
                             Device device, uint64_t seed);

// Images stored as the tensor "images" (N, C, H, W), float32 or float64 in [-1, 1], in a
// safetensors file (what scripts/peer_pytorch_gan.py writes), as (CPU float32 tensor).
// Errors name the file: no such tensor, wrong rank, values outside [-1, 1] or not finite.
Tensor load_image_file(const std::string& path);

class QualityEvaluator {
 public:
  // Opens the feature network and gets the reference statistics: from --ref-stats, from
  // <run>/quality-ref-stats.safetensors of an earlier start of the same run, or computed
  // from the first ref_samples images of `dataset` (then saved there). When resuming,
  // earlier evaluations up to `resume_step` are read back from <run>/quality.json.
  QualityEvaluator(const QualityEvalConfig& c, const std::string& run_dir, const data::Dataset& dataset,
                   Device device, int64_t resume_step = -1);
  ~QualityEvaluator();
  bool due(int64_t step) const { return cfg_.every > 0 && step % cfg_.every == 0; }
  // Scores config.samples images from `generate` at `step`; returns the metrics line
  // ({"step", "fd"}, or {"step", "fid", "is", "is_std"} for Inception, plus "eval_seconds") and rewrites
  // quality.json and quality.png.
  nlohmann::json evaluate(int64_t step, const ImageSource& generate);
  // "fd" (classifier features) or "fid" (Inception).
  const std::string& metric() const { return metric_; }

 private:
  void write_outputs();
  QualityEvalConfig cfg_;
  std::string dir_, metric_;
  std::unique_ptr<FeatureExtractor> net_;
  Stats ref_;
  nlohmann::json history_;  // array of metrics lines
};

}  // namespace odegan::app
