// Eigenvalues of the game's Jacobian J = dv/dy (the paper's Section 3.2) and where h * lambda
// falls against each method's region of absolute stability. The operator comes in as
// products (GanGame::jacobian_transpose gives J^T u; J^T has J's eigenvalues): small
// games are formed densely and solved with Eigen; large ones use implicitly restarted
// Arnoldi (Spectra) for the eigenvalues of largest modulus and of smallest real part.
#pragma once
#include <complex>
#include <functional>
#include <string>
#include <vector>

namespace odegan::app {

using cdouble = std::complex<double>;
// y = A x for vectors of n doubles.
using LinearOperator = std::function<void(const double* x, double* y)>;

enum class Which { largest_modulus, smallest_real };

// Every eigenvalue of the n x n operator, formed column by column (n products; for n up
// to a few thousand). `progress(done)` is called after each column when given.
std::vector<cdouble> dense_eigenvalues(const LinearOperator& a, int64_t n,
                                       const std::function<void(int64_t)>& progress = {});

struct ArnoldiResult {
  std::vector<cdouble> values;  // converged eigenvalues, sorted by the rule
  int products = 0;             // operator applications
  bool converged = false;       // all `nev` requested converged
};
// `nev` eigenvalues by implicitly restarted Arnoldi with `ncv` basis vectors (0: a
// default of max(2 nev + 1, 20), at most n).
ArnoldiResult arnoldi_eigenvalues(const LinearOperator& a, int64_t n, int nev, Which which, int ncv = 0,
                                  int max_restarts = 500, double tol = 1e-8);

// The k eigenvalues first under a rule (largest |lambda|, or smallest Re lambda).
std::vector<cdouble> select(std::vector<cdouble> values, Which which, int k);

// Growth factor of a method on the linear test equation y' = lambda y at z = h lambda:
// |R(z)| for one-step methods (euler, rk2, rk4, implicit_midpoint, trapezoid), the largest
// root modulus of the characteristic polynomial for ab2 and ab3. Stable where <= 1.
double growth(const std::string& method, cdouble z);
// The methods drawn and checked, in order.
const std::vector<std::string>& stability_methods();

// The stability regions' boundaries (growth = 1) in the complex plane with the points
// h * lambda on top; PNG.
void write_stability_plot(const std::string& path, const std::vector<cdouble>& h_lambda, const std::string& title);

}  // namespace odegan::app
