// Image-quality numbers the apps share (odegan_fid, in-training evaluation): a feature
// extractor interface (Inception-v3 pool3 for FID, the Fashion-MNIST classifier for
// FD-FMNIST), Gaussian statistics of features (mean, covariance), the Fréchet distance
// between two such Gaussians in float64, the Inception Score, and statistics files
// (safetensors; pytorch-fid's .npz read too).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace odegan::app {

// Maps images to features. Images are (N, C, H, W) with values in [-1, 1] (the range our
// generators and datasets use), on any device; the extractor resizes / converts as its
// network needs.
class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  virtual std::string name() const = 0;  // "inception-pool3", "fmnist-classifier", ...
  virtual int64_t batch_size() const = 0;  // images per extract() call the pipeline uses
  // Writes features (N, D) and, when the network has them, class logits (N, K); `logits`
  // is left undefined otherwise. Any dtype / device (the statistics are taken in float64).
  virtual void extract(const Tensor& images, Tensor& features, Tensor& logits) = 0;
};

// A Gaussian fitted to features: mean (D) and covariance (D x D, row-major), both float64;
// the covariance is unbiased (divides by count - 1), as numpy.cov and pytorch-fid.
struct Stats {
  int64_t count = 0;  // samples the statistics were computed from (0 when unknown: .npz)
  int64_t dim = 0;
  std::vector<double> mu;
  std::vector<double> sigma;
};

// Streams feature batches into running sums (float64, shifted by the first batch's mean
// for accuracy), so 50 000 x 2048 features never need to be held at once.
class StatsAccumulator {
 public:
  void add(const Tensor& features);  // (n, D), any dtype and device; D fixed by the first call
  int64_t count() const { return count_; }
  Stats finish() const;  // needs count >= 2

 private:
  int64_t count_ = 0, dim_ = 0;
  std::vector<double> shift_, sum_, sum_sq_;  // sum_sq_: lower triangle is valid
};

Stats stats_from_features(const Tensor& features);

// ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), in float64. The trace term is
// computed as tr((B^T S2 B)^(1/2)) with S1 = B B^T: the square root of a symmetric positive
// semi-definite matrix (its eigenvalues, clamped at 0), which stays accurate when the
// covariances are singular (fewer samples than dimensions).
double frechet_distance(const Stats& a, const Stats& b);

// Inception Score: exp(E_x KL(p(y|x) || p(y))) on each of `splits` consecutive parts of
// the samples (part i = rows [i*N/splits, (i+1)*N/splits)), mean and population std over
// the parts, as the original improved-GAN code (and TF-GAN / torch-fidelity at N = 50 000).
struct InceptionScore {
  double mean = 0, std = 0;
};

// Streams class probabilities into per-split sums, so the logits need not be kept.
class InceptionScoreAccumulator {
 public:
  InceptionScoreAccumulator(int64_t total, int splits = 10);
  // Rows are the next samples, in order. add_logits applies a softmax over all K columns
  // (for the pytorch-fid Inception: all 1008, background class included, as the original
  // code's softmax over the 2015 network's outputs).
  void add_logits(const Tensor& logits);
  void add_probs(const Tensor& probs);
  InceptionScore finish() const;  // needs exactly `total` rows added

 private:
  void add_rows(const std::vector<double>& p, int64_t rows, int64_t k);
  int64_t total_, seen_ = 0, k_ = 0;
  int splits_;
  std::vector<double> sum_p_;       // (splits, K)
  std::vector<double> sum_plogp_;   // (splits)
};

InceptionScore inception_score(const Tensor& logits, int splits = 10);
InceptionScore inception_score_from_probs(const Tensor& probs, int splits = 10);

// Statistics files. save: safetensors with "mu" (D) and "sigma" (D, D) in F64, plus
// metadata count / features. load: that format, or pytorch-fid's .npz (a zip of mu.npy and
// sigma.npy, float32 or float64). Errors name the file and the array.
void save_stats(const std::string& path, const Stats& stats, const std::string& features = "");
Stats load_stats(const std::string& path);

// Produces images [first, first + count) as (count, C, H, W) in [-1, 1], any device.
using ImageSource = std::function<Tensor(int64_t first, int64_t count)>;

struct ImageQuality {
  Stats stats;
  std::optional<InceptionScore> is;  // when the extractor gives logits
  double seconds = 0;                // wall time of the whole pass
};

// The one pipeline every app uses: n images from `source` in batches of the extractor's
// batch size -> features -> statistics (and IS from the logits, `is_splits` parts).
// `progress` prints images/s and ETA on stderr.
ImageQuality measure_images(FeatureExtractor& extractor, const ImageSource& source, int64_t n, bool progress = true,
                            int is_splits = 10);

}  // namespace odegan::app
