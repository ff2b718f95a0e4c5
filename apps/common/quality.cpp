#include "apps/common/quality.h"

#include <zip.h>

#include <Eigen/Dense>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>

#include "apps/common/progress.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace odegan::app {

namespace {

using MatrixRM = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMapRM = Eigen::Map<const MatrixRM>;
using ConstMapVec = Eigen::Map<const Eigen::VectorXd>;

// A (rows, cols) tensor's values on the host in float64.
std::vector<double> host_f64(const Tensor& t) { return t.to(Device::cpu()).to(DType::f64).to_vector<double>(); }

void check_stats(const Stats& s, const char* which) {
  ODEGAN_CHECK(s.dim > 0 && s.mu.size() == static_cast<size_t>(s.dim) &&
                   s.sigma.size() == static_cast<size_t>(s.dim * s.dim),
               "frechet_distance: ", which, " statistics are malformed (dim ", s.dim, ", mu ", s.mu.size(),
               " values, sigma ", s.sigma.size(), ")");
  for (double v : s.mu) ODEGAN_CHECK(std::isfinite(v), "frechet_distance: ", which, " mean has a non-finite value");
  for (double v : s.sigma)
    ODEGAN_CHECK(std::isfinite(v), "frechet_distance: ", which, " covariance has a non-finite value");
}

// S = B B^T for a symmetric positive semi-definite S, B of shape (d, r) with r its numerical
// rank: left-looking Cholesky with complete (diagonal) pivoting, O(d r^2).
Eigen::MatrixXd pivoted_cholesky(const Eigen::MatrixXd& s) {
  const Eigen::Index d = s.rows();
  Eigen::VectorXd diag = s.diagonal();
  const double tol = static_cast<double>(d) * std::numeric_limits<double>::epsilon() * diag.cwiseAbs().maxCoeff();
  Eigen::MatrixXd l = Eigen::MatrixXd::Zero(d, d);
  std::vector<bool> used(static_cast<size_t>(d), false);
  Eigen::Index r = 0;
  for (; r < d; ++r) {
    Eigen::Index p = -1;
    for (Eigen::Index i = 0; i < d; ++i)
      if (!used[static_cast<size_t>(i)] && (p < 0 || diag(i) > diag(p))) p = i;
    if (diag(p) <= tol) break;
    used[static_cast<size_t>(p)] = true;
    Eigen::VectorXd col = s.col(p);
    if (r > 0) col.noalias() -= l.leftCols(r) * l.row(p).head(r).transpose();
    col /= std::sqrt(diag(p));
    for (Eigen::Index i = 0; i < d; ++i) {
      if (used[static_cast<size_t>(i)] && i != p) {
        col(i) = 0;  // earlier pivots' rows are done (exactly zero in exact arithmetic)
      } else if (i != p) {
        diag(i) -= col(i) * col(i);
      }
    }
    l.col(r) = col;
  }
  return l.leftCols(r);
}

}  // namespace

// ---------------------------------------------------------------- statistics

void StatsAccumulator::add(const Tensor& features) {
  ODEGAN_CHECK(features.defined() && features.ndim() == 2, "features must be (N, D), got ",
               features.defined() ? describe(features) : std::string("an undefined tensor"));
  const int64_t n = features.size(0), d = features.size(1);
  ODEGAN_CHECK(d > 0, "features must have at least one dimension");
  if (n == 0) return;
  std::vector<double> x = host_f64(features);
  for (double v : x) ODEGAN_CHECK(std::isfinite(v), "features contain a non-finite value (NaN or inf)");
  Eigen::Map<MatrixRM> xm(x.data(), n, d);
  if (count_ == 0) {
    dim_ = d;
    // Sums of (x - shift) with shift near the mean keep the covariance from cancelling
    // catastrophically when the features sit far from the origin.
    Eigen::VectorXd mean = xm.colwise().mean().transpose();
    shift_.assign(mean.data(), mean.data() + d);
    sum_.assign(static_cast<size_t>(d), 0.0);
    sum_sq_.assign(static_cast<size_t>(d * d), 0.0);
  }
  ODEGAN_CHECK(d == dim_, "features changed dimension: ", d, " after ", dim_);
  xm.rowwise() -= ConstMapVec(shift_.data(), d).transpose();
  Eigen::Map<Eigen::VectorXd>(sum_.data(), d) += xm.colwise().sum().transpose();
  Eigen::Map<Eigen::MatrixXd> s(sum_sq_.data(), d, d);
  s.selfadjointView<Eigen::Lower>().rankUpdate(xm.transpose());  // += X^T X, lower triangle
  count_ += n;
}

Stats StatsAccumulator::finish() const {
  ODEGAN_CHECK(count_ >= 2, "statistics need at least 2 samples, got ", count_);
  const int64_t d = dim_;
  const double n = static_cast<double>(count_);
  Stats st;
  st.count = count_;
  st.dim = d;
  Eigen::VectorXd m = ConstMapVec(sum_.data(), d) / n;
  Eigen::MatrixXd s = Eigen::Map<const Eigen::MatrixXd>(sum_sq_.data(), d, d).selfadjointView<Eigen::Lower>();
  Eigen::MatrixXd cov = (s - n * m * m.transpose()) / (n - 1.0);
  st.mu.resize(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) st.mu[static_cast<size_t>(i)] = shift_[static_cast<size_t>(i)] + m(i);
  st.sigma.resize(static_cast<size_t>(d * d));
  Eigen::Map<MatrixRM>(st.sigma.data(), d, d) = cov;
  return st;
}

Stats stats_from_features(const Tensor& features) {
  StatsAccumulator acc;
  acc.add(features);
  return acc.finish();
}

double frechet_distance(const Stats& a, const Stats& b) {
  check_stats(a, "first");
  check_stats(b, "second");
  ODEGAN_CHECK(a.dim == b.dim, "frechet_distance: feature dimensions differ (", a.dim, " vs ", b.dim, ")");
  const int64_t d = a.dim;
  ConstMapVec mu1(a.mu.data(), d), mu2(b.mu.data(), d);
  // Symmetrised copies: stored covariances may differ from symmetric in the last bit.
  Eigen::MatrixXd s1 = ConstMapRM(a.sigma.data(), d, d), s2 = ConstMapRM(b.sigma.data(), d, d);
  s1 = 0.5 * (s1 + s1.transpose()).eval();
  s2 = 0.5 * (s2 + s2.transpose()).eval();
  // tr((S1 S2)^(1/2)) = tr((B^T S2 B)^(1/2)) for any factor S1 = B B^T: S1 S2 is similar to
  // the symmetric positive semi-definite B^T S2 B, whose eigenvalues are real and >= 0 (up
  // to rounding, hence the clamps), and only eigenvalues are needed. B is S1's pivoted
  // Cholesky factor (d x r), stopped where the remaining diagonal is at rounding level
  // (d * eps * the largest diagonal, LAPACK dpstrf's default): S1's null space is dropped,
  // so a covariance of n < d samples leaves an n x n problem, not a d x d one.
  const Eigen::MatrixXd factor = pivoted_cholesky(s1);
  double tr_covmean = 0;  // S1 = 0 leaves no columns, and a zero trace
  if (factor.cols() > 0) {
    Eigen::MatrixXd m = factor.transpose() * s2 * factor;
    m = 0.5 * (m + m.transpose()).eval();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> e2(m, Eigen::EigenvaluesOnly);
    ODEGAN_CHECK(e2.info() == Eigen::Success, "frechet_distance: eigenvalues of B^T S2 B (S1 = B B^T) failed");
    tr_covmean = e2.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
  }
  return (mu1 - mu2).squaredNorm() + s1.trace() + s2.trace() - 2.0 * tr_covmean;
}

// ---------------------------------------------------------------- inception score

InceptionScoreAccumulator::InceptionScoreAccumulator(int64_t total, int splits) : total_(total), splits_(splits) {
  ODEGAN_CHECK(splits >= 1, "inception score: splits must be >= 1, got ", splits);
  ODEGAN_CHECK(total >= splits, "inception score: ", total, " samples cannot make ", splits, " splits");
  sum_plogp_.assign(static_cast<size_t>(splits), 0.0);
}

void InceptionScoreAccumulator::add_rows(const std::vector<double>& logp, int64_t rows, int64_t k) {
  if (k_ == 0) {
    k_ = k;
    sum_p_.assign(static_cast<size_t>(splits_ * k), 0.0);
  }
  ODEGAN_CHECK(k == k_, "inception score: class count changed from ", k_, " to ", k);
  ODEGAN_CHECK(seen_ + rows <= total_, "inception score: more than the announced ", total_, " samples");
  int s = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t row = seen_ + r;
    while ((s + 1) * total_ / splits_ <= row) ++s;  // part s holds rows [s*N/S, (s+1)*N/S)
    double* sp = &sum_p_[static_cast<size_t>(s * k)];
    const double* lp = &logp[static_cast<size_t>(r * k)];
    for (int64_t j = 0; j < k; ++j) {
      if (std::isinf(lp[j])) continue;  // p = 0 contributes 0 log 0 = 0
      const double p = std::exp(lp[j]);
      sp[j] += p;
      sum_plogp_[static_cast<size_t>(s)] += p * lp[j];
    }
  }
  seen_ += rows;
}

void InceptionScoreAccumulator::add_logits(const Tensor& logits) {
  ODEGAN_CHECK(logits.defined() && logits.ndim() == 2, "inception score: logits must be (N, K)");
  const int64_t n = logits.size(0), k = logits.size(1);
  std::vector<double> v = host_f64(logits);
  for (int64_t r = 0; r < n; ++r) {
    double* row = &v[static_cast<size_t>(r * k)];
    double mx = -INFINITY;
    for (int64_t j = 0; j < k; ++j) {
      ODEGAN_CHECK(std::isfinite(row[j]), "inception score: a logit is not finite (row ", seen_ + r, ")");
      mx = std::max(mx, row[j]);
    }
    double z = 0;
    for (int64_t j = 0; j < k; ++j) z += std::exp(row[j] - mx);
    const double lse = mx + std::log(z);
    for (int64_t j = 0; j < k; ++j) row[j] -= lse;  // log-softmax
  }
  add_rows(v, n, k);
}

void InceptionScoreAccumulator::add_probs(const Tensor& probs) {
  ODEGAN_CHECK(probs.defined() && probs.ndim() == 2, "inception score: probabilities must be (N, K)");
  const int64_t n = probs.size(0), k = probs.size(1);
  std::vector<double> v = host_f64(probs);
  for (int64_t r = 0; r < n; ++r) {
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) {
      double& p = v[static_cast<size_t>(r * k + j)];
      ODEGAN_CHECK(std::isfinite(p) && p >= 0, "inception score: probability ", p, " at row ", seen_ + r);
      sum += p;
      p = p > 0 ? std::log(p) : -INFINITY;
    }
    ODEGAN_CHECK(std::abs(sum - 1.0) < 1e-3, "inception score: row ", seen_ + r, " sums to ", sum, ", not 1");
  }
  add_rows(v, n, k);
}

InceptionScore InceptionScoreAccumulator::finish() const {
  ODEGAN_CHECK(seen_ == total_, "inception score: got ", seen_, " samples, expected ", total_);
  std::vector<double> scores;
  for (int s = 0; s < splits_; ++s) {
    const double n = static_cast<double>((s + 1) * total_ / splits_ - s * total_ / splits_);
    const double* sp = &sum_p_[static_cast<size_t>(s * k_)];
    // sum_x KL(p(y|x) || p(y)) = sum_x sum_y p log p - n sum_y pbar log pbar
    double cross = 0;
    for (int64_t j = 0; j < k_; ++j)
      if (sp[j] > 0) cross += sp[j] * std::log(sp[j] / n);
    scores.push_back(std::exp((sum_plogp_[static_cast<size_t>(s)] - cross) / n));
  }
  InceptionScore is;
  for (double v : scores) is.mean += v / splits_;
  double var = 0;
  for (double v : scores) var += (v - is.mean) * (v - is.mean) / splits_;
  is.std = std::sqrt(var);
  return is;
}

InceptionScore inception_score(const Tensor& logits, int splits) {
  ODEGAN_CHECK(logits.defined() && logits.ndim() == 2, "inception score: logits must be (N, K)");
  InceptionScoreAccumulator acc(logits.size(0), splits);
  acc.add_logits(logits);
  return acc.finish();
}

InceptionScore inception_score_from_probs(const Tensor& probs, int splits) {
  ODEGAN_CHECK(probs.defined() && probs.ndim() == 2, "inception score: probabilities must be (N, K)");
  InceptionScoreAccumulator acc(probs.size(0), splits);
  acc.add_probs(probs);
  return acc.finish();
}

// ---------------------------------------------------------------- statistics files

namespace {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<double> values;
};

// Parses a .npy file (format versions 1-3): little-endian (or byte-order-free) float32 /
// float64 in C order. `what` names the file and array in errors.
NpyArray parse_npy(const std::string& bytes, const std::string& what) {
  ODEGAN_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, what, ": not a .npy array (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    ODEGAN_CHECK(bytes.size() >= 12, what, ": truncated .npy header");
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    start = 12;
  } else {
    ODEGAN_FAIL(what, ": unsupported .npy format version ", major);
  }
  ODEGAN_CHECK(bytes.size() >= start + header_len, what, ": truncated .npy header");
  const std::string header = bytes.substr(start, header_len);
  auto value_of = [&](const std::string& key) {
    const size_t k = header.find("'" + key + "'");
    ODEGAN_CHECK(k != std::string::npos, what, ": .npy header has no '", key, "' (", header, ")");
    size_t colon = header.find(':', k);
    ODEGAN_CHECK(colon != std::string::npos, what, ": malformed .npy header (", header, ")");
    size_t b = header.find_first_not_of(' ', colon + 1);
    ODEGAN_CHECK(b != std::string::npos, what, ": malformed .npy header (", header, ")");
    size_t e = header[b] == '(' ? header.find(')', b) + 1
               : header[b] == '\'' ? header.find('\'', b + 1) + 1
                                   : header.find_first_of(",}", b);
    ODEGAN_CHECK(e != std::string::npos && e > b, what, ": malformed .npy header (", header, ")");
    return header.substr(b, e - b);
  };
  const std::string descr = value_of("descr"), fortran = value_of("fortran_order"), shape = value_of("shape");
  size_t item = 0;
  if (descr == "'<f8'") {
    item = 8;
  } else if (descr == "'<f4'") {
    item = 4;
  } else {
    ODEGAN_FAIL(what, ": unsupported .npy dtype ", descr, " (expected little-endian float64 '<f8' or float32 '<f4')");
  }
  ODEGAN_CHECK(fortran == "False", what, ": Fortran-order .npy arrays are not supported");
  ODEGAN_CHECK(shape.size() >= 2 && shape.front() == '(' && shape.back() == ')', what, ": malformed shape ", shape);
  NpyArray a;
  int64_t numel = 1;
  std::string dims = shape.substr(1, shape.size() - 2);
  size_t p = 0;
  while (p < dims.size()) {
    size_t q = dims.find(',', p);
    if (q == std::string::npos) q = dims.size();
    std::string tok = dims.substr(p, q - p);
    tok.erase(0, tok.find_first_not_of(' '));
    tok.erase(tok.find_last_not_of(' ') + 1);
    if (!tok.empty()) {
      ODEGAN_CHECK(tok.find_first_not_of("0123456789") == std::string::npos, what, ": malformed shape ", shape);
      a.shape.push_back(std::stoll(tok));
      numel *= a.shape.back();
    }
    p = q + 1;
  }
  const size_t data = start + header_len;
  ODEGAN_CHECK(bytes.size() - data == static_cast<size_t>(numel) * item, what, ": holds ", bytes.size() - data,
               " data bytes, expected ", static_cast<size_t>(numel) * item, " for shape ", shape);
  a.values.resize(static_cast<size_t>(numel));
  for (int64_t i = 0; i < numel; ++i) {
    if (item == 8) {
      std::memcpy(&a.values[static_cast<size_t>(i)], bytes.data() + data + 8 * i, 8);
    } else {
      float f;
      std::memcpy(&f, bytes.data() + data + 4 * i, 4);
      a.values[static_cast<size_t>(i)] = f;
    }
  }
  return a;
}

std::map<std::string, NpyArray> read_npz(const std::string& path, const std::vector<std::string>& names) {
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!za) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    ODEGAN_FAIL(path, ": cannot read as a .npz (zip) file: ", msg);
  }
  std::map<std::string, NpyArray> out;
  try {
    for (const std::string& name : names) {
      const std::string entry = name + ".npy", what = path + ": array '" + name + "'";
      zip_stat_t st;
      zip_stat_init(&st);
      ODEGAN_CHECK(zip_stat(za, entry.c_str(), 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE), what,
                   " is missing (no ", entry, " in the archive)");
      zip_file_t* f = zip_fopen(za, entry.c_str(), 0);
      ODEGAN_CHECK(f, what, ": cannot open: ", zip_strerror(za));
      std::string bytes(static_cast<size_t>(st.size), '\0');
      zip_int64_t got = zip_fread(f, bytes.data(), st.size);
      std::string ferr = got < 0 ? zip_file_strerror(f) : "";
      zip_fclose(f);
      ODEGAN_CHECK(got == static_cast<zip_int64_t>(st.size), what, ": cannot read (", got < 0 ? ferr : "short read",
                   ")");
      out[name] = parse_npy(bytes, what);
    }
  } catch (...) {
    zip_discard(za);
    throw;
  }
  zip_discard(za);
  return out;
}

bool starts_with_zip_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char m[4] = {0, 0, 0, 0};
  in.read(m, 4);
  return in.gcount() == 4 && m[0] == 'P' && m[1] == 'K' && (m[2] == 3 || m[2] == 5) && (m[3] == 4 || m[3] == 6);
}

void check_loaded(const Stats& s, const std::string& path) {
  for (double v : s.mu) ODEGAN_CHECK(std::isfinite(v), path, ": array 'mu' has a non-finite value");
  for (double v : s.sigma) ODEGAN_CHECK(std::isfinite(v), path, ": array 'sigma' has a non-finite value");
}

}  // namespace

void save_stats(const std::string& path, const Stats& stats, const std::string& features) {
  ODEGAN_CHECK(stats.dim > 0 && stats.mu.size() == static_cast<size_t>(stats.dim) &&
                   stats.sigma.size() == static_cast<size_t>(stats.dim * stats.dim),
               "save_stats: malformed statistics for ", path);
  TensorMap t;
  t["mu"] = Tensor::from_vector(stats.mu, {stats.dim});
  t["sigma"] = Tensor::from_vector(stats.sigma, {stats.dim, stats.dim});
  std::map<std::string, std::string> meta{{"count", std::to_string(stats.count)}};
  if (!features.empty()) meta["features"] = features;
  save_safetensors(path, t, meta);
}

Stats load_stats(const std::string& path) {
  {
    std::ifstream probe(path, std::ios::binary);
    ODEGAN_CHECK(probe.good(), path, ": cannot open statistics file");
  }
  Stats s;
  const bool npz_name = path.size() >= 4 && path.compare(path.size() - 4, 4, ".npz") == 0;
  if (npz_name || starts_with_zip_magic(path)) {
    auto arrays = read_npz(path, {"mu", "sigma"});
    const NpyArray &mu = arrays["mu"], &sigma = arrays["sigma"];
    ODEGAN_CHECK(mu.shape.size() == 1 && mu.shape[0] > 0, path, ": array 'mu' must be 1-D, got ", mu.shape.size(),
                 " dimensions");
    s.dim = mu.shape[0];
    ODEGAN_CHECK(sigma.shape.size() == 2 && sigma.shape[0] == s.dim && sigma.shape[1] == s.dim, path,
                 ": array 'sigma' must be (", s.dim, ", ", s.dim, ") to match 'mu'");
    s.mu = mu.values;
    s.sigma = sigma.values;
  } else {
    std::map<std::string, std::string> meta;
    TensorMap t = load_safetensors(path, &meta);
    for (const char* name : {"mu", "sigma"})
      ODEGAN_CHECK(t.count(name), path, ": array '", name, "' is missing");
    const Tensor &mu = t["mu"], &sigma = t["sigma"];
    ODEGAN_CHECK(mu.ndim() == 1 && mu.size(0) > 0, path, ": array 'mu' must be 1-D, got ", describe(mu));
    s.dim = mu.size(0);
    ODEGAN_CHECK(sigma.ndim() == 2 && sigma.size(0) == s.dim && sigma.size(1) == s.dim, path, ": array 'sigma' must be (",
                 s.dim, ", ", s.dim, ") to match 'mu', got ", describe(sigma));
    s.mu = host_f64(mu);
    s.sigma = host_f64(sigma);
    if (meta.count("count")) s.count = std::stoll(meta["count"]);
  }
  check_loaded(s, path);
  return s;
}

// ---------------------------------------------------------------- the pipeline

ImageQuality measure_images(FeatureExtractor& extractor, const ImageSource& source, int64_t n, bool progress,
                            int is_splits) {
  ODEGAN_CHECK(n >= 2, "quality: need at least 2 images, got ", n);
  const int64_t batch = extractor.batch_size();
  ODEGAN_CHECK(batch >= 1, "quality: ", extractor.name(), " batch size must be >= 1, got ", batch);
  StatsAccumulator stats;
  std::optional<InceptionScoreAccumulator> is;
  bool logits_seen = false;
  const auto start = std::chrono::steady_clock::now();
  Progress bar(n, "images");
  if (progress) bar.update(0);  // the rate counts from here, not from the first batch's end
  for (int64_t done = 0; done < n;) {
    const int64_t k = std::min(batch, n - done);
    Tensor images = source(done, k);
    ODEGAN_CHECK(images.defined() && images.ndim() == 4 && images.size(0) == k, "quality: the image source gave ",
                 images.defined() ? describe(images) : std::string("nothing"), " for ", k, " images");
    Tensor features, logits;
    extractor.extract(images, features, logits);
    ODEGAN_CHECK(features.defined() && features.ndim() == 2 && features.size(0) == k, "quality: ", extractor.name(),
                 " gave features ", features.defined() ? describe(features) : std::string("(none)"), " for ", k,
                 " images");
    stats.add(features);
    if (done == 0) logits_seen = logits.defined();
    ODEGAN_CHECK(logits.defined() == logits_seen, "quality: ", extractor.name(), " gave logits for some batches only");
    if (logits_seen) {
      if (!is && n >= is_splits) is.emplace(n, is_splits);
      if (is) is->add_logits(logits);
    }
    done += k;
    if (progress) bar.update(done);
  }
  if (progress) bar.finish();
  ImageQuality q;
  q.stats = stats.finish();
  if (is) q.is = is->finish();
  q.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return q;
}

}  // namespace odegan::app
