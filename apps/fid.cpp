// odegan_fid: FID and Inception Score of a run's generator, an image folder or a dataset,
// against a dataset or a statistics file (pytorch-fid .npz or our safetensors), with the
// pytorch-fid Inception-v3 (weights converted by scripts/convert_inception.py).
//   odegan_fid --run runs/cifar --n 50000 --ref fid_stats_cifar10_train.npz --inception pt_inception.safetensors
//   odegan_fid --data cifar-10-batches-bin --save-stats cifar10-train.safetensors --inception ...
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/common/classifier_features.h"
#include "apps/common/image_sources.h"
#include "apps/common/inception_features.h"
#include "apps/common/quality.h"
#include "apps/common/quality_eval.h"
#include "apps/common/run.h"
#include "data/dataset.h"

using namespace odegan;

namespace {

struct ExtractorOptions {
  std::string features = "inception";  // inception (FID) or classifier (FD-FMNIST)
  std::string classifier;        // odegan_classifier weights
  std::string inception;         // weights file (safetensors from scripts/convert_inception.py)
  int64_t random_inception_seed = -1;  // tests only: seeded random weights instead of a file
  int64_t batch = 50;
  Device device = Device::cpu();
};

// The feature network. Other extractors (the Fashion-MNIST classifier) plug in here,
// selected by a flag, and everything downstream (statistics, distance, files) is shared.
std::unique_ptr<app::FeatureExtractor> make_extractor(const ExtractorOptions& o) {
  ODEGAN_CHECK(o.features == "inception" || o.features == "classifier", "--features '", o.features,
               "': expected inception or classifier");
  if (o.features == "classifier") {
    ODEGAN_CHECK(!o.classifier.empty(), "--features classifier needs --classifier FILE (from odegan_classifier)");
    return std::make_unique<app::ClassifierFeatures>(o.classifier, o.device, o.batch);
  }
  std::shared_ptr<nn::models::InceptionV3> net;
  if (o.random_inception_seed >= 0) {
    net = std::make_shared<nn::models::InceptionV3>(DType::f32);
    nn::models::randomize_inception(*net, static_cast<uint64_t>(o.random_inception_seed));
    net->to(o.device);
    net->eval();
  } else {
    net = app::open_inception(o.inception, o.device);
  }
  return std::make_unique<app::InceptionFeatures>(net, o.batch);
}

struct DataFlags {
  std::string path, format = "cifar10", split = "train";
};

app::NamedSource open_data(const DataFlags& d, int64_t image_size, int channels, int64_t n, uint64_t seed,
                           const char* flag) {
  ODEGAN_CHECK(d.format == "cifar10" || d.format == "idx" || d.format == "folder", flag, " '", d.format,
               "': expected cifar10, idx or folder");
  data::DatasetOptions o;
  o.format = d.format;
  o.split = d.split;
  o.image_size = image_size;
  o.channels = channels;
  std::shared_ptr<data::Dataset> ds = data::open_dataset(d.path, o);
  return app::dataset_source(ds, n, seed, d.format + " " + d.path + (d.format == "folder" ? "" : " (" + d.split + ")"));
}

bool is_stats_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) return false;
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".npz" || ext == ".safetensors";
}

}  // namespace

int main(int argc, char** argv) {
  return app::run_main("odegan_fid", [&] {
    std::string run, checkpoint, images, samples, ref, ref_format, save_stats, json_path, device = "auto";
    DataFlags data, ref_data;
    int64_t steps = -1, n = 50000, ref_n = 50000, image_size = 32;
    int channels = 3, splits = 10;
    uint64_t seed = 0;
    ExtractorOptions xo;
    CLI::App cli{"FID and Inception Score of a generator, an image folder or a dataset (pytorch-fid's Inception-v3)"};
    cli.option_defaults()->always_capture_default();  // --help shows defaults
    auto* o_run = cli.add_option("--run", run, "run directory of odegan_cifar10 / odegan_imagenet: measure its generator");
    cli.add_option("--steps", steps, "with --run: the checkpoint of this step (default: the latest)");
    cli.add_option("--checkpoint", checkpoint, "with --run: an explicit checkpoint file");
    auto* o_images = cli.add_option("--images", images, "measure the image files in this folder (e.g. odegan_sample's)");
    auto* o_samples = cli.add_option("--samples", samples,
                                     "measure the tensor \"images\" (N, C, H, W) in [-1, 1] of a safetensors file "
                                     "(e.g. scripts/peer_pytorch_gan.py's samples)");
    auto* o_data = cli.add_option("--data", data.path, "measure a dataset");
    cli.add_option("--format", data.format, "--data format: cifar10, idx or folder");
    cli.add_option("--split", data.split, "--data split (cifar10, idx): train or test");
    cli.add_option("--n", n, "images to measure (datasets and folders: at most all of them)");
    cli.add_option("--ref", ref,
                   "reference: a statistics file (.npz from pytorch-fid, or .safetensors from --save-stats) or a "
                   "dataset (then --ref-format)");
    cli.add_option("--ref-format", ref_format, "--ref dataset format: cifar10, idx or folder (default: --format)");
    cli.add_option("--ref-split", ref_data.split, "--ref dataset split");
    cli.add_option("--ref-n", ref_n, "images of the --ref dataset (at most all of them)");
    cli.add_option("--save-stats", save_stats, "write the measured statistics (mu, sigma) to this safetensors file");
    cli.add_option("--features", xo.features, "inception (FID, IS) or classifier (FD-FMNIST, with --classifier)");
    cli.add_option("--classifier", xo.classifier, "--features classifier: weights from odegan_classifier");
    cli.add_option("--inception", xo.inception, "Inception-v3 weights (safetensors from scripts/convert_inception.py)");
    cli.add_option("--random-inception-seed", xo.random_inception_seed,
                   "TESTS ONLY: random Inception weights from this seed instead of --inception (numbers mean nothing)")
        ->group("");  // hidden from --help
    cli.add_option("--image-size", image_size, "side of dataset images (idx: 28 padded to 32; folder: resized)");
    cli.add_option("--channels", channels, "channels of folder images (1 or 3)")->check(CLI::IsMember({1, 3}));
    cli.add_option("--batch", xo.batch, "images per Inception batch");
    cli.add_option("--device", device, "cpu, cuda, cuda:N or auto");
    cli.add_option("--seed", seed, "generator noise seed; dataset subset seed when --n is below its size");
    cli.add_option("--splits", splits, "Inception Score splits");
    cli.add_option("--json", json_path, "also write the results to this JSON file");
    try {
      cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli.exit(e);
    }
    const int sources = int(o_run->count() > 0) + int(o_images->count() > 0) + int(o_data->count() > 0) +
                        int(o_samples->count() > 0);
    ODEGAN_CHECK(sources == 1, "give exactly one of --run, --images or --data (or --samples FILE); got ", sources);
    ODEGAN_CHECK(n >= 2, "--n must be >= 2, got ", n);
    ODEGAN_CHECK(ref_n >= 2, "--ref-n must be >= 2, got ", ref_n);
    ODEGAN_CHECK(splits >= 1, "--splits must be >= 1, got ", splits);
    ODEGAN_CHECK(xo.batch >= 1, "--batch must be >= 1, got ", xo.batch);
    ODEGAN_CHECK(run.empty() || (steps < 0 || checkpoint.empty()), "give --steps or --checkpoint, not both");
    xo.device = Device::parse(device);

    // The reference first: a missing statistics file should fail before minutes of work.
    std::optional<app::Stats> ref_stats;
    std::optional<app::NamedSource> ref_source;
    std::string ref_description;
    if (!ref.empty()) {
      if (ref_format.empty() || ref_format == "stats") {
        ODEGAN_CHECK(ref_format.empty() || is_stats_file(ref), "--ref ", ref, ": not a .npz or .safetensors file");
        if (is_stats_file(ref) || !std::filesystem::exists(ref)) {
          ref_stats = app::load_stats(ref);
          ref_description = "statistics " + ref;
        }
      }
      if (!ref_stats) {
        ref_data.path = ref;
        ref_data.format = ref_format.empty() ? data.format : ref_format;
        // The same seed: a dataset against itself compares the same subset (FID 0).
        ref_source = open_data(ref_data, image_size, channels, ref_n, seed, "--ref-format");
        ref_description = ref_source->description;
      }
    }

    app::NamedSource source;
    std::shared_ptr<app::RunGenerator> generator;
    if (!run.empty()) {
      generator = std::make_shared<app::RunGenerator>(app::load_run_generator(run, device, steps, checkpoint));
      source = app::generator_source(generator, seed);
    } else if (!images.empty()) {
      source = app::folder_source(images, channels);
    } else if (!samples.empty()) {
      auto stored = std::make_shared<Tensor>(app::load_image_file(samples));
      source.source = [stored](int64_t first, int64_t count) { return stored->slice(first, first + count); };
      source.available = stored->shape()[0];
      source.description = "samples " + samples;
    } else {
      source = open_data(data, image_size, channels, n, seed, "--format");
    }
    if (source.available >= 0 && source.available < n) {
      std::printf("%s holds %lld images: measuring all of them\n", source.description.c_str(),
                  static_cast<long long>(source.available));
      n = source.available;
    }
    std::unique_ptr<app::FeatureExtractor> extractor = make_extractor(xo);
    const bool inception = xo.features == "inception";
    std::printf("measuring %lld images of %s with %s on %s\n", static_cast<long long>(n), source.description.c_str(),
                extractor->name().c_str(), xo.device.str().c_str());
    std::fflush(stdout);
    app::ImageQuality q = app::measure_images(*extractor, source.source, n, true, splits);
    if (!save_stats.empty()) {
      app::save_stats(save_stats, q.stats, extractor->name());
      std::printf("wrote statistics of %lld images to %s\n", static_cast<long long>(q.stats.count), save_stats.c_str());
    }
    double ref_seconds = 0;
    if (ref_source) {
      int64_t rn = ref_source->available;
      std::printf("reference: %lld images of %s\n", static_cast<long long>(rn), ref_description.c_str());
      std::fflush(stdout);
      app::ImageQuality rq = app::measure_images(*extractor, ref_source->source, rn, true, splits);
      ref_stats = rq.stats;
      ref_seconds = rq.seconds;
    }

    app::json j;
    j["source"] = source.description;
    j["n"] = q.stats.count;
    j["features"] = extractor->name();
    j["feature_dim"] = q.stats.dim;
    j["seconds"] = q.seconds;
    j["images_per_s"] = q.seconds > 0 ? q.stats.count / q.seconds : 0.0;
    std::string line;
    char buf[256];
    if (ref_stats) {
      ODEGAN_CHECK(ref_stats->dim == q.stats.dim, "--ref ", ref, ": statistics of dimension ", ref_stats->dim,
                   ", but ", extractor->name(), " features have ", q.stats.dim);
      // FID with Inception features; FD-FMNIST ("fd") with the classifier's: another network,
      // so another scale -- the numbers must not be mistaken for each other.
      const double fid = app::frechet_distance(q.stats, *ref_stats);
      j[inception ? "fid" : "fd"] = fid;
      j["ref"] = ref_description;
      j["ref_n"] = ref_stats->count;
      if (ref_seconds > 0) j["ref_seconds"] = ref_seconds;
      std::snprintf(buf, sizeof buf, "%s %.4f", inception ? "FID" : "FD-FMNIST", fid);
      line += buf;
    }
    if (q.is) {  // the IS formula on the classifier's 10 classes is not the Inception Score
      const std::string key = inception ? "is" : "class_score";
      j[key + "_mean"] = q.is->mean;
      j[key + "_std"] = q.is->std;
      j[key + "_splits"] = splits;
      std::snprintf(buf, sizeof buf, "%s%s %.4f ± %.4f", line.empty() ? "" : "  ",
                    inception ? "IS" : "classifier score (IS formula, 10 classes)", q.is->mean, q.is->std);
      line += buf;
    }
    std::snprintf(buf, sizeof buf, "  (%lld images, %.1f images/s)", static_cast<long long>(q.stats.count),
                  j["images_per_s"].get<double>());
    std::printf("%s%s\n", line.c_str(), buf);
    std::printf("%s\n", j.dump().c_str());
    if (!json_path.empty()) app::write_json(json_path, j);
    return 0;
  });
}
