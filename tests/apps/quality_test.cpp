// The quality numbers (apps/common/quality): statistics against numpy, the Fréchet
// distance against scipy (pytorch-fid's calculate_frechet_distance) and closed forms, the
// Inception Score against the original code and closed forms, statistics files
// (safetensors, pytorch-fid .npz, corrupt files), and the batching pipeline.
// Fixtures: tests/fixtures/quality (scripts/make_fd_fixture.py; command in its README).
#include <gtest/gtest.h>
#include <zip.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "apps/common/quality.h"
#include "core/safetensors.h"
#include "tests/common/test_util.h"

namespace {

using namespace odegan;
using namespace odegan::app;

const std::string kFixtures = std::string(ODEGAN_SOURCE_DIR) + "/tests/fixtures/quality";

TensorMap& fixture() {
  static TensorMap t = load_safetensors(kFixtures + "/fd_is.safetensors");
  return t;
}

Stats fixture_stats(const std::string& k) {
  Stats s;
  s.mu = fixture().at("mu_" + k).to_vector<double>();
  s.sigma = fixture().at("sigma_" + k).to_vector<double>();
  s.dim = static_cast<int64_t>(s.mu.size());
  s.count = fixture().at("features_" + k).size(0);
  return s;
}

double max_rel(const std::vector<double>& a, const std::vector<double>& b, double scale) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]) / scale);
  return m;
}

TEST(QualityStats, MatchNumpyMeanAndUnbiasedCovarianceInOneOrManyBatches) {
  for (const char* k : {"a", "c"}) {
    const Tensor x = fixture().at(std::string("features_") + k);
    const Stats want = fixture_stats(k);
    Stats got = stats_from_features(x);
    EXPECT_EQ(got.count, x.size(0));
    EXPECT_LT(max_rel(got.mu, want.mu, 1.0), 1e-12) << k;
    EXPECT_LT(max_rel(got.sigma, want.sigma, 1.0), 1e-12) << k;
    // Streamed in uneven batches, float32 features: same up to float32 rounding of the input.
    StatsAccumulator acc;
    const Tensor x32 = x.to(DType::f32);
    const int64_t n = x.size(0);
    acc.add(x32.slice(0, 3));
    acc.add(x32.slice(3, 3));  // empty batch
    acc.add(x32.slice(3, n / 2));
    acc.add(x32.slice(n / 2, n));
    Stats streamed = acc.finish();
    EXPECT_EQ(streamed.count, n);
    EXPECT_LT(max_rel(streamed.mu, want.mu, 1.0), 1e-6) << k;
    EXPECT_LT(max_rel(streamed.sigma, want.sigma, 1.0), 1e-5) << k;
  }
  StatsAccumulator one;
  one.add(fixture().at("features_a").slice(0, 1));
  EXPECT_THROW(one.finish(), Error);  // a covariance needs 2 samples
  EXPECT_THROW(one.add(Tensor::zeros({2, 5}, DType::f64)), Error);  // dimension changed
  EXPECT_THROW(stats_from_features(Tensor::full({3, 2}, NAN, DType::f32)), Error);
}

TEST(FrechetDistance, MatchesScipyIncludingFewerSamplesThanDimensions) {
  const std::vector<std::string> pairs = {"ab", "ce", "ac", "eb"};  // ce, ac, eb: singular covariances
  const std::vector<double> want = fixture().at("fd").to_vector<double>();
  for (size_t i = 0; i < pairs.size(); ++i) {
    const double got = frechet_distance(fixture_stats(pairs[i].substr(0, 1)), fixture_stats(pairs[i].substr(1, 1)));
    EXPECT_LE(std::abs(got - want[i]) / want[i], 1e-6) << pairs[i] << ": " << got << " vs scipy " << want[i];
  }
  // Symmetric in its arguments (up to the square root's sensitivity at zero eigenvalues).
  const double ce = frechet_distance(fixture_stats("c"), fixture_stats("e"));
  EXPECT_NEAR(ce, frechet_distance(fixture_stats("e"), fixture_stats("c")), 1e-8 * ce);
}

Stats make_stats(std::vector<double> mu, std::vector<double> sigma) {
  Stats s;
  s.dim = static_cast<int64_t>(mu.size());
  s.mu = std::move(mu);
  s.sigma = std::move(sigma);
  return s;
}

TEST(FrechetDistance, ClosedForms) {
  // Identical statistics: 0 up to rounding relative to the traces. Singular covariances (c:
  // rank 9 of 24) lose more: each zero eigenvalue of B^T S2 B comes out as some eps * |S|
  // and its square root as ~1e-8 |S|^(1/2), so the tolerance is 1e-6 of the trace there.
  for (const char* k : {"a", "c"}) {
    const double tol = std::string(k) == "a" ? 1e-12 : 1e-6;
    Stats s = fixture_stats(k);
    double tr = 0;
    for (int64_t i = 0; i < s.dim; ++i) tr += s.sigma[static_cast<size_t>(i * s.dim + i)];
    EXPECT_LT(std::abs(frechet_distance(s, s)), tol * tr) << k;
    // Translation by v: exactly |v|^2.
    Stats t = s;
    double v2 = 0;
    for (int64_t i = 0; i < s.dim; ++i) {
      const double v = 0.1 * (i % 5) - 0.2;
      t.mu[static_cast<size_t>(i)] += v;
      v2 += v * v;
    }
    EXPECT_NEAR(frechet_distance(s, t), v2, tol * tr) << k;
  }
  // Covariances diagonal in a common rotated basis Q: sum (sqrt(a_i) - sqrt(b_i))^2 + |dmu|^2.
  const int d = 3;
  const double c = std::cos(0.7), sn = std::sin(0.7);
  const double q[d][d] = {{c, -sn, 0}, {sn, c, 0}, {0, 0, 1}};
  const double a[d] = {4.0, 0.25, 0.0}, b[d] = {1.0, 9.0, 2.0};  // a singular
  std::vector<double> s1(d * d), s2(d * d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j)
      for (int k = 0; k < d; ++k) {
        s1[static_cast<size_t>(i * d + j)] += q[i][k] * a[k] * q[j][k];
        s2[static_cast<size_t>(i * d + j)] += q[i][k] * b[k] * q[j][k];
      }
  double want = 1.0 * 1.0 + 2.0 * 2.0;  // mean difference (1, -2, 0)
  for (int k = 0; k < d; ++k) want += (std::sqrt(a[k]) - std::sqrt(b[k])) * (std::sqrt(a[k]) - std::sqrt(b[k]));
  EXPECT_NEAR(frechet_distance(make_stats({1, 0, 5}, s1), make_stats({0, 2, 5}, s2)), want, 1e-12 * 16);
  // Zero covariance on one side: |dmu|^2 + tr(S2).
  EXPECT_NEAR(frechet_distance(make_stats({0, 0, 0}, std::vector<double>(9, 0.0)), make_stats({1, 1, 1}, s2)),
              3.0 + 12.0, 1e-12 * 16);
  // Mismatched or malformed statistics are errors.
  EXPECT_THROW(frechet_distance(make_stats({0, 0}, {1, 0, 0, 1}), make_stats({1, 1, 1}, s2)), Error);
  EXPECT_THROW(frechet_distance(make_stats({0, NAN, 0}, s1), make_stats({1, 1, 1}, s2)), Error);
}

TEST(InceptionScore, ClosedFormsAndTheOriginalCode) {
  // Uniform predictions: IS 1 on every split.
  InceptionScore u = inception_score(Tensor::zeros({40, 7}, DType::f32), 10);
  EXPECT_NEAR(u.mean, 1.0, 1e-12);
  EXPECT_NEAR(u.std, 0.0, 1e-12);
  // One-hot predictions spread evenly over K classes in every split: IS K.
  const int64_t k = 5, n = 50;
  std::vector<double> onehot(static_cast<size_t>(n * k), 0.0), logits(static_cast<size_t>(n * k), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    onehot[static_cast<size_t>(i * k + i % k)] = 1.0;
    logits[static_cast<size_t>(i * k + i % k)] = 60.0;  // softmax ~ one-hot (e^-60 elsewhere)
  }
  InceptionScore oh = inception_score_from_probs(Tensor::from_vector(onehot, {n, k}), 10);
  EXPECT_NEAR(oh.mean, 5.0, 1e-12);
  EXPECT_NEAR(oh.std, 0.0, 1e-12);
  EXPECT_NEAR(inception_score(Tensor::from_vector(logits, {n, k}), 10).mean, 5.0, 1e-9);
  // The original improved-GAN code on random logits, 53 samples in 10 uneven splits.
  const Tensor l = fixture().at("is_logits");
  const std::vector<double> want = fixture().at("is_expected").to_vector<double>();
  InceptionScore is = inception_score(l, 10);
  EXPECT_NEAR(is.mean, want[0], 1e-10 * want[0]);
  EXPECT_NEAR(is.std, want[1], 1e-10 * want[0]);
  // Streamed in batches that straddle split boundaries: the same numbers.
  InceptionScoreAccumulator acc(l.size(0), 10);
  acc.add_logits(l.slice(0, 7));
  acc.add_logits(l.slice(7, 30));
  EXPECT_THROW(acc.finish(), Error);  // not all samples yet
  acc.add_logits(l.slice(30, 53));
  InceptionScore streamed = acc.finish();
  EXPECT_NEAR(streamed.mean, is.mean, 1e-12 * is.mean);
  EXPECT_NEAR(streamed.std, is.std, 1e-12 * is.mean);
  EXPECT_THROW(acc.add_logits(l.slice(0, 1)), Error);  // more than announced
  EXPECT_THROW(inception_score(l.slice(0, 5), 10), Error);  // fewer samples than splits
  EXPECT_THROW(inception_score_from_probs(Tensor::full({10, 2}, 0.3, DType::f64), 2), Error);  // rows sum to 0.6
}

// ---------------------------------------------------------------- statistics files

TEST(StatsFiles, SafetensorsRoundTripsExactly) {
  const std::string path = odegan::testing::temp_dir() + "/ref.safetensors";
  Stats s = fixture_stats("c");
  save_stats(path, s, "test-features");
  Stats r = load_stats(path);
  EXPECT_EQ(r.count, s.count);
  EXPECT_EQ(r.dim, s.dim);
  EXPECT_TRUE(r.mu == s.mu);
  EXPECT_TRUE(r.sigma == s.sigma);
  std::map<std::string, std::string> meta;
  TensorMap t = load_safetensors(path, &meta);
  EXPECT_EQ(t.at("mu").dtype(), DType::f64);
  EXPECT_EQ(t.at("sigma").dtype(), DType::f64);
  EXPECT_EQ(meta.at("features"), "test-features");
}

// The statistics of the first 4 feature columns of fixture set "a" (what the .npz hold).
Stats first_four_of_a() {
  const Tensor a = fixture().at("features_a");
  const int64_t n = a.size(0), d = a.size(1);
  std::vector<double> all = a.to_vector<double>(), four;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < 4; ++j) four.push_back(all[static_cast<size_t>(i * d + j)]);
  return stats_from_features(Tensor::from_vector(four, {n, 4}));
}

TEST(StatsFiles, ReadsPytorchFidNpzInFloat64AndCompressedFloat32) {
  const Stats want = first_four_of_a();
  Stats f64 = load_stats(kFixtures + "/stats_f64.npz");
  EXPECT_EQ(f64.dim, 4);
  EXPECT_LT(max_rel(f64.mu, want.mu, 1.0), 1e-12);
  EXPECT_LT(max_rel(f64.sigma, want.sigma, 1.0), 1e-12);
  Stats f32 = load_stats(kFixtures + "/stats_f32z.npz");
  EXPECT_LT(max_rel(f32.mu, want.mu, 4.0), 1e-7);
  EXPECT_LT(max_rel(f32.sigma, want.sigma, 1.0), 1e-7);
  EXPECT_GT(max_rel(f32.sigma, want.sigma, 1.0), 0.0);  // really read as float32
}

// A .npy file's bytes: version 1 header with the given descr / order / shape.
std::string npy(const std::string& descr, const std::string& fortran, const std::string& shape,
                const std::vector<double>& values, size_t drop_bytes = 0) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  for (double v : values) {
    if (descr.back() == '4') {
      float f = static_cast<float>(v);
      out.append(reinterpret_cast<const char*>(&f), 4);
    } else {
      out.append(reinterpret_cast<const char*>(&v), 8);
    }
  }
  out.resize(out.size() - drop_bytes);
  return out;
}

// Writes a zip archive with libzip (entries stored, names as given).
void write_zip(const std::string& path, const std::vector<std::pair<std::string, std::string>>& entries) {
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(za, nullptr) << path;
  for (const auto& [name, bytes] : entries) {
    zip_source_t* src = zip_source_buffer(za, bytes.data(), bytes.size(), 0);  // bytes outlive zip_close
    ASSERT_NE(src, nullptr);
    ASSERT_GE(zip_file_add(za, name.c_str(), src, ZIP_FL_OVERWRITE), 0) << zip_strerror(za);
  }
  ASSERT_EQ(zip_close(za), 0);
}

std::string error_of(const std::string& path) {
  try {
    load_stats(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(StatsFiles, WrittenNpzAndCorruptFilesGiveErrorsNamingFileAndArray) {
  const std::string dir = odegan::testing::temp_dir();
  const std::vector<double> mu = {1, 2}, sigma = {2, 0.5, 0.5, 1};
  // A good archive written by libzip, float32 and float64 mixed: read back.
  const std::string good = dir + "/good.npz";
  write_zip(good, {{"mu.npy", npy("<f4", "False", "(2,)", mu)}, {"sigma.npy", npy("<f8", "False", "(2, 2)", sigma)}});
  Stats s = load_stats(good);
  EXPECT_EQ(s.mu, mu);
  EXPECT_EQ(s.sigma, sigma);
  struct Case {
    std::string name;
    std::vector<std::pair<std::string, std::string>> entries;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"nosigma", {{"mu.npy", npy("<f8", "False", "(2,)", mu)}}, "array 'sigma' is missing"},
      {"short", {{"mu.npy", npy("<f8", "False", "(2,)", mu, 3)}, {"sigma.npy", npy("<f8", "False", "(2, 2)", sigma)}},
       "array 'mu': holds 13 data bytes, expected 16"},
      {"bigendian", {{"mu.npy", npy(">f8", "False", "(2,)", mu)}, {"sigma.npy", npy("<f8", "False", "(2, 2)", sigma)}},
       "array 'mu': unsupported .npy dtype '>f8'"},
      {"fortran", {{"mu.npy", npy("<f8", "False", "(2,)", mu)}, {"sigma.npy", npy("<f8", "True", "(2, 2)", sigma)}},
       "array 'sigma': Fortran-order"},
      {"shape", {{"mu.npy", npy("<f8", "False", "(2,)", mu)}, {"sigma.npy", npy("<f8", "False", "(4,)", sigma)}},
       "array 'sigma' must be (2, 2)"},
      {"notnpy", {{"mu.npy", "hello"}, {"sigma.npy", npy("<f8", "False", "(2, 2)", sigma)}},
       "array 'mu': not a .npy array"},
  };
  for (const Case& c : cases) {
    const std::string path = dir + "/" + c.name + ".npz";
    write_zip(path, c.entries);
    const std::string msg = error_of(path);
    EXPECT_NE(msg.find(path), std::string::npos) << c.name << ": " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.name << ": " << msg;
  }
  // A truncated archive, a file that is not a zip, a missing file.
  std::ifstream in(kFixtures + "/stats_f64.npz", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/truncated.npz", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::string msg = error_of(dir + "/truncated.npz");
  EXPECT_NE(msg.find(dir + "/truncated.npz: cannot read as a .npz"), std::string::npos) << msg;
  std::ofstream(dir + "/text.npz") << "this is not a statistics file";
  msg = error_of(dir + "/text.npz");
  EXPECT_NE(msg.find(dir + "/text.npz: cannot read as a .npz (zip) file: Not a zip archive"), std::string::npos) << msg;
  std::ofstream(dir + "/text.safetensors") << "this is not a statistics file";
  msg = error_of(dir + "/text.safetensors");
  EXPECT_NE(msg.find(dir + "/text.safetensors"), std::string::npos) << msg;
  msg = error_of(dir + "/absent.npz");
  EXPECT_NE(msg.find(dir + "/absent.npz: cannot open"), std::string::npos) << msg;
  // A safetensors file without sigma.
  save_safetensors(dir + "/mu_only.safetensors", {{"mu", Tensor::from_vector(mu, {2})}});
  msg = error_of(dir + "/mu_only.safetensors");
  EXPECT_NE(msg.find(dir + "/mu_only.safetensors: array 'sigma' is missing"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- the pipeline

// Features: the flattened image; logits: its first 4 values.
class FlattenExtractor : public FeatureExtractor {
 public:
  std::string name() const override { return "flatten"; }
  int64_t batch_size() const override { return 3; }
  void extract(const Tensor& images, Tensor& features, Tensor& logits) override {
    ++calls;
    features = images.reshape({images.size(0), -1});
    std::vector<float> v = features.to_vector<float>(), l;
    const int64_t d = features.size(1);
    for (int64_t i = 0; i < images.size(0); ++i)
      for (int64_t j = 0; j < 4; ++j) l.push_back(3.0f * v[static_cast<size_t>(i * d + j)]);
    logits = Tensor::from_vector(l, {images.size(0), 4});
  }
  int calls = 0;
};

TEST(QualityPipeline, BatchesTheSourceAndMatchesWholeSetStatisticsAndScore) {
  const int64_t n = 23;
  const Tensor all = odegan::testing::random_tensor({n, 1, 2, 3}, DType::f32, 7);
  FlattenExtractor fx;
  std::vector<std::pair<int64_t, int64_t>> asked;
  ImageQuality q = measure_images(
      fx,
      [&](int64_t first, int64_t count) {
        asked.emplace_back(first, count);
        return all.slice(first, first + count);
      },
      n, /*progress=*/false, 10);
  EXPECT_EQ(fx.calls, 8);  // ceil(23 / 3)
  EXPECT_EQ(asked.back(), (std::pair<int64_t, int64_t>{21, 2}));
  Stats want = stats_from_features(all.reshape({n, 6}));
  EXPECT_EQ(q.stats.count, n);
  EXPECT_LT(max_rel(q.stats.mu, want.mu, 1.0), 1e-12);
  EXPECT_LT(max_rel(q.stats.sigma, want.sigma, 1.0), 1e-12);
  ASSERT_TRUE(q.is.has_value());
  std::vector<float> v = all.to_vector<float>(), l;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < 4; ++j) l.push_back(3.0f * v[static_cast<size_t>(i * 6 + j)]);
  InceptionScore is = inception_score(Tensor::from_vector(l, {n, 4}), 10);
  EXPECT_NEAR(q.is->mean, is.mean, 1e-12);
  EXPECT_NEAR(q.is->std, is.std, 1e-12);
  // A source that gives the wrong number of images is an error.
  EXPECT_THROW(measure_images(fx, [&](int64_t, int64_t) { return all.slice(0, 1); }, n, false), Error);
}

}  // namespace
