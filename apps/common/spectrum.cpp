#include "apps/common/spectrum.h"

#include <Eigen/Dense>
#include <Spectra/GenEigsSolver.h>
#include <algorithm>
#include <cmath>

#include "apps/common/plot.h"
#include "core/error.h"

namespace odegan::app {

std::vector<cdouble> dense_eigenvalues(const LinearOperator& a, int64_t n,
                                       const std::function<void(int64_t)>& progress) {
  ODEGAN_CHECK(n > 0, "dense_eigenvalues: empty operator");
  Eigen::MatrixXd m(n, n);
  Eigen::VectorXd e = Eigen::VectorXd::Zero(n);
  for (int64_t j = 0; j < n; ++j) {
    e[j] = 1.0;
    a(e.data(), m.col(j).data());
    e[j] = 0.0;
    if (progress) progress(j + 1);
  }
  Eigen::EigenSolver<Eigen::MatrixXd> es(m, /*computeEigenvectors=*/false);
  ODEGAN_CHECK(es.info() == Eigen::Success, "dense_eigenvalues: the QR iteration did not converge (n = ", n, ")");
  std::vector<cdouble> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = es.eigenvalues()[i];
  return out;
}

namespace {

// Spectra's matrix-free operator interface over a LinearOperator.
struct SpectraOp {
  using Scalar = double;
  const LinearOperator* a;
  Eigen::Index n;
  mutable int products = 0;
  Eigen::Index rows() const { return n; }
  Eigen::Index cols() const { return n; }
  void perform_op(const double* x, double* y) const {
    (*a)(x, y);
    ++products;
  }
};

}  // namespace

ArnoldiResult arnoldi_eigenvalues(const LinearOperator& a, int64_t n, int nev, Which which, int ncv, int max_restarts,
                                  double tol) {
  ODEGAN_CHECK(nev >= 1 && nev <= n - 2, "Arnoldi: need 1 <= nev <= n - 2, got nev ", nev, " for n ", n);
  if (ncv <= 0) ncv = std::max(2 * nev + 1, 20);
  ncv = static_cast<int>(std::min<int64_t>(ncv, n));
  ODEGAN_CHECK(ncv >= nev + 2, "Arnoldi: need ncv >= nev + 2, got ncv ", ncv, " nev ", nev);
  SpectraOp op{&a, static_cast<Eigen::Index>(n)};
  Spectra::GenEigsSolver<SpectraOp> eigs(op, nev, ncv);
  eigs.init();
  const Spectra::SortRule rule =
      which == Which::largest_modulus ? Spectra::SortRule::LargestMagn : Spectra::SortRule::SmallestReal;
  const Eigen::Index nconv = eigs.compute(rule, max_restarts, tol, rule);
  ArnoldiResult r;
  r.products = op.products;
  r.converged = eigs.info() == Spectra::CompInfo::Successful && nconv >= nev;
  if (nconv > 0) {
    Eigen::VectorXcd ev = eigs.eigenvalues();
    for (Eigen::Index i = 0; i < ev.size(); ++i) r.values.push_back(ev[i]);
  }
  return r;
}

std::vector<cdouble> select(std::vector<cdouble> values, Which which, int k) {
  auto key = [which](const cdouble& z) { return which == Which::largest_modulus ? -std::abs(z) : z.real(); };
  std::stable_sort(values.begin(), values.end(), [&](const cdouble& x, const cdouble& y) { return key(x) < key(y); });
  if (k >= 0 && values.size() > size_t(k)) values.resize(size_t(k));
  return values;
}

namespace {

// Largest root modulus of a polynomial with complex coefficients c[0] x^d + ... + c[d].
double max_root_modulus(const std::vector<cdouble>& c) {
  const int d = static_cast<int>(c.size()) - 1;
  Eigen::MatrixXcd comp = Eigen::MatrixXcd::Zero(d, d);
  for (int j = 0; j < d; ++j) comp(0, j) = -c[size_t(j) + 1] / c[0];
  for (int i = 1; i < d; ++i) comp(i, i - 1) = 1.0;
  Eigen::ComplexEigenSolver<Eigen::MatrixXcd> es(comp, false);
  double m = 0;
  for (int i = 0; i < d; ++i) m = std::max(m, std::abs(es.eigenvalues()[i]));
  return m;
}

}  // namespace

double growth(const std::string& method, cdouble z) {
  if (method == "euler") return std::abs(1.0 + z);
  if (method == "rk2") return std::abs(1.0 + z + z * z / 2.0);
  if (method == "rk4") return std::abs(1.0 + z + z * z / 2.0 + z * z * z / 6.0 + z * z * z * z / 24.0);
  if (method == "implicit_midpoint" || method == "trapezoid") return std::abs((1.0 + z / 2.0) / (1.0 - z / 2.0));
  // Adams-Bashforth: zeta^k - zeta^(k-1) - z sum_j beta_j zeta^(k-1-j) = 0.
  if (method == "ab2") return max_root_modulus({1.0, -1.0 - 1.5 * z, 0.5 * z});
  if (method == "ab3") return max_root_modulus({1.0, -1.0 - z * 23.0 / 12.0, z * 16.0 / 12.0, -z * 5.0 / 12.0});
  ODEGAN_FAIL("growth: no stability function for method '", method, "'");
}

const std::vector<std::string>& stability_methods() {
  static const std::vector<std::string> m = {"euler", "rk2", "rk4", "ab2", "ab3", "trapezoid"};
  return m;
}

void write_stability_plot(const std::string& path, const std::vector<cdouble>& h_lambda, const std::string& title) {
  // Limits: every region's extent (about [-3, 1] x [-3, 3]) and every point, with a margin.
  double x0 = -3.2, x1 = 1.0, y0 = -3.2, y1 = 3.2;
  for (const cdouble& z : h_lambda)
    if (std::isfinite(z.real()) && std::isfinite(z.imag()))
      x0 = std::min(x0, z.real()), x1 = std::max(x1, z.real()), y0 = std::min(y0, z.imag()), y1 = std::max(y1, z.imag());
  const double mx = 0.05 * (x1 - x0), my = 0.05 * (y1 - y0);
  x0 -= mx, x1 += mx, y0 -= my, y1 += my;
  plot::Canvas cv(760, 700);
  plot::Axes ax(cv, 80, 50, 620, 580);
  ax.set_limits(x0, x1, y0, y1);
  const int nx = 321, ny = 321;
  std::vector<std::pair<std::string, plot::Color>> legend;
  int i = 0;
  for (const std::string& m : stability_methods()) {
    const plot::Color col = plot::colors::series(i++);
    if (m == "trapezoid") {  // |R| = 1 exactly on Re z = 0: drawn as the line, not a contour
      ax.segment(0, y0, 0, y1, col, 2.0);
      legend.push_back({"implicit midpoint, trapezoid (Re z <= 0)", col});
      continue;
    }
    std::vector<double> g(size_t(nx) * ny);
    for (int r = 0; r < ny; ++r)
      for (int c = 0; c < nx; ++c) {
        const cdouble z(x0 + (x1 - x0) * c / (nx - 1), y0 + (y1 - y0) * r / (ny - 1));
        g[size_t(r) * nx + size_t(c)] = std::min(growth(m, z), 10.0);
      }
    ax.contour(g, nx, ny, {1.0}, col, 2.0, 0.9f);
    legend.push_back({m, col});
  }
  ax.segment(x0, 0, x1, 0, plot::colors::gray, 0.8);
  std::vector<double> re, im;
  for (const cdouble& z : h_lambda) re.push_back(z.real()), im.push_back(z.imag());
  ax.scatter(re, im, plot::colors::black, 2.5, 0.9f);
  legend.push_back({"h * lambda", plot::colors::black});
  ax.draw_frame(title, "Re(h lambda)", "Im(h lambda)");
  ax.legend(legend);
  cv.save_png(path);
}

}  // namespace odegan::app
