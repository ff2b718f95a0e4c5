#include "apps/common/quality_eval.h"

#include "apps/common/config_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/common/classifier_features.h"
#include "apps/common/inception_features.h"
#include "apps/common/plot.h"
#include "apps/common/run.h"
#include "autodiff/var.h"
#include "core/safetensors.h"

namespace odegan::app {

namespace fs = std::filesystem;
using json = nlohmann::json;

void QualityEvalConfig::validate() const {
  ODEGAN_CHECK(every >= 0, "--eval-every must be >= 0 (0: no evaluation), got ", every);
  if (!enabled()) return;
  ODEGAN_CHECK(samples >= 2, "--eval-samples must be >= 2 (a covariance needs two samples), got ", samples);
  ODEGAN_CHECK(ref_samples >= 2, "--eval-ref-samples must be >= 2, got ", ref_samples);
  ODEGAN_CHECK(!classifier.empty() || !inception.empty(),
               "--eval-every needs a feature network: --classifier FILE (FD-FMNIST; train it with odegan_classifier) "
               "or --inception FILE (FID and IS; see scripts/convert_inception.py)");
  ODEGAN_CHECK(classifier.empty() || inception.empty(), "--classifier and --inception exclude each other: give one");
  ODEGAN_CHECK(inception.empty() || samples >= kInceptionScoreSplits, "--eval-samples must be >= ",
               kInceptionScoreSplits, " with --inception (the Inception Score's ", kInceptionScoreSplits,
               " splits), got ", samples);
  for (const std::string* f : {&classifier, &inception, &ref_stats})
    ODEGAN_CHECK(f->empty() || fs::is_regular_file(*f), "file '", *f, "' does not exist");
}

json QualityEvalConfig::to_json() const { return json(*this); }

QualityEvalConfig QualityEvalConfig::from_json(const json& j, const std::string& source) {
  return config_from_json<QualityEvalConfig>(j, source);
}

void add_quality_flags(CLI::App& cli, QualityEvalConfig& c) {
  cli.add_option("--eval-every", c.every, "steps between image-quality evaluations (0: none)");
  cli.add_option("--eval-samples", c.samples, "generated images per evaluation");
  cli.add_option("--eval-ref-samples", c.ref_samples, "real images for the reference statistics (without --ref-stats)");
  cli.add_option("--classifier", c.classifier, "evaluation by FD-FMNIST: weights from odegan_classifier");
  cli.add_option("--inception", c.inception,
                 "evaluation by FID and IS: pytorch-fid's Inception weights (scripts/convert_inception.py)");
  cli.add_option("--ref-stats", c.ref_stats, "reference statistics file (default: computed from --data)");
}

std::unique_ptr<FeatureExtractor> make_feature_extractor(const QualityEvalConfig& c, Device device) {
  ODEGAN_CHECK(!c.classifier.empty() || !c.inception.empty(),
               "no feature network: give --classifier FILE or --inception FILE");
  if (!c.inception.empty())  // 50 images per forward, as pytorch-fid
    return std::make_unique<InceptionFeatures>(open_inception(c.inception, device), 50);
  return std::make_unique<ClassifierFeatures>(c.classifier, device);
}

ImageSource generator_images(solvers::Players& players, int64_t latent, int64_t num_classes, DType dtype,
                             Device device, uint64_t seed) {
  auto noise = std::make_shared<Generator>(seed);
  auto next = std::make_shared<int64_t>(0);
  return [&players, latent, num_classes, dtype, device, seed, noise, next](int64_t first, int64_t count) {
    if (first == 0) *noise = Generator(seed), *next = 0;
    ODEGAN_CHECK(first == *next, "generator_images: images are read in order (asked for ", first, ", next is ", *next,
                 ")");
    *next = first + count;
    Tensor z = Tensor::empty({count, latent}, dtype, device);
    fill_normal(z, *noise);
    Tensor y;
    if (num_classes > 0) {
      std::vector<int32_t> labels(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i) labels[static_cast<size_t>(i)] = static_cast<int32_t>((first + i) % num_classes);
      y = Tensor::from_vector(labels, {count}).to(device);
    }
    ad::NoGradGuard no_grad;
    const bool was_training = players.generator->is_training();
    players.generator->eval();
    Tensor x = players.generate(ad::Var(z), y).data();
    players.generator->train(was_training);
    return x;
  };
}

Tensor load_image_file(const std::string& path) {
  ODEGAN_CHECK(fs::is_regular_file(path), "image file '", path, "' does not exist");
  TensorMap t = load_safetensors(path);
  auto it = t.find("images");
  ODEGAN_CHECK(it != t.end(), "'", path, "' holds no tensor named \"images\" (N, C, H, W)");
  Tensor x = it->second.to(Device::cpu());
  ODEGAN_CHECK(x.ndim() == 4 && x.shape()[0] > 0 && is_floating(x.dtype()), "'", path,
               "': \"images\" must be a float (N, C, H, W) tensor, got ", describe(x));
  x = x.to(DType::f32);
  const float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i)
    ODEGAN_CHECK(std::isfinite(p[i]) && p[i] >= -1.0001f && p[i] <= 1.0001f, "'", path, "': image value ", p[i],
                 " at element ", i, " is outside [-1, 1]");
  return x;
}

QualityEvaluator::QualityEvaluator(const QualityEvalConfig& c, const std::string& run_dir,
                                   const data::Dataset& dataset, Device device, int64_t resume_step)
    : cfg_(c), dir_(run_dir), history_(json::array()) {
  cfg_.validate();
  net_ = make_feature_extractor(cfg_, device);
  metric_ = net_->name().rfind("inception", 0) == 0 ? "fid" : "fd";
  const std::string cached = dir_ + "/quality-ref-stats.safetensors";
  if (!cfg_.ref_stats.empty()) {
    ref_ = load_stats(cfg_.ref_stats);
  } else if (resume_step >= 0 && fs::exists(cached)) {
    ref_ = load_stats(cached);
  } else {
    const int64_t n = std::min(cfg_.ref_samples, dataset.size());
    ODEGAN_CHECK(n >= 2, "the dataset has ", dataset.size(), " images: too few for reference statistics");
    const Shape s = dataset.sample_shape();
    std::printf("quality: reference statistics of %lld real images (%s)\n", static_cast<long long>(n),
                net_->name().c_str());
    ImageSource real = [&](int64_t first, int64_t count) {
      Tensor x = Tensor::empty(Shape{count, s[0], s[1], s[2]});
      const int64_t per = s[0] * s[1] * s[2];
      for (int64_t i = 0; i < count; ++i) {
        int32_t label = 0;
        ODEGAN_CHECK(dataset.get(first + i, x.data<float>() + i * per, &label, nullptr), "cannot read ",
                     dataset.where(first + i));
      }
      return x;
    };
    ref_ = measure_images(*net_, real, n, true).stats;
    save_stats(cached, ref_, net_->name());
  }
  if (resume_step >= 0 && fs::exists(dir_ + "/quality.json")) {
    for (const json& e : read_json(dir_ + "/quality.json").value("evaluations", json::array()))
      if (e.at("step").get<int64_t>() <= resume_step) history_.push_back(e);
  }
}

QualityEvaluator::~QualityEvaluator() = default;

json QualityEvaluator::evaluate(int64_t step, const ImageSource& generate) {
  ImageQuality q = measure_images(*net_, generate, cfg_.samples, false);
  const double d = frechet_distance(q.stats, ref_);
  json line = {{"step", step}, {metric_, d}};
  if (metric_ == "fid" && q.is) line["is"] = q.is->mean, line["is_std"] = q.is->std;
  line["eval_seconds"] = q.seconds;
  history_.push_back(line);
  write_outputs();
  return line;
}

void QualityEvaluator::write_outputs() {
  // Best = lowest distance (a NaN never counts as best); final = the latest evaluation.
  const json* best = nullptr;
  std::vector<double> steps, values;
  for (const json& e : history_) {
    const double v = e.at(metric_).get<double>();
    steps.push_back(e.at("step").get<double>());
    values.push_back(v);
    if (std::isfinite(v) && (!best || v < best->at(metric_).get<double>())) best = &e;
  }
  json summary = {{"metric", metric_},
                  {"features", net_->name()},
                  {"samples", cfg_.samples},
                  {"reference_count", ref_.count},
                  {"final", history_.empty() ? json() : history_.back()},
                  {"best", best ? *best : json()},
                  {"evaluations", history_}};
  write_json(dir_ + "/quality.json", summary);
  if (steps.empty()) return;
  plot::Canvas cv(900, 420);
  plot::Axes ax(cv, 80, 40, 780, 320);
  auto r = plot::finite_range(values);
  const double pad = r[1] > r[0] ? 0.05 * (r[1] - r[0]) : 0.5;
  ax.set_limits(steps.front(), steps.size() > 1 ? steps.back() : steps.front() + 1, std::max(0.0, r[0] - pad),
                r[1] + pad);
  ax.plot(steps, values, plot::colors::blue, 1.5);
  ax.scatter(steps, values, plot::colors::blue, 2.5);
  const std::string label = metric_ == "fd" ? "FD (" + net_->name() + " features)" : "FID";
  ax.draw_frame(label + " of " + std::to_string(cfg_.samples) + " samples", "step", metric_);
  cv.save_png(dir_ + "/quality.png");
}

}  // namespace odegan::app
