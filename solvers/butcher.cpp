#include "solvers/butcher.h"

#include <cmath>

#include "core/error.h"

namespace odegan::solvers {

bool ButcherTableau::sequential() const {
  for (int i = 0; i < stages(); ++i)
    for (int j = 0; j + 1 < i; ++j)
      if (a[i][j] != 0.0) return false;
  return !embedded();
}

void ButcherTableau::validate() const {
  const int s = stages();
  ODEGAN_CHECK(s > 0 && static_cast<int>(c.size()) == s && static_cast<int>(a.size()) == s, name,
               ": tableau sizes disagree");
  ODEGAN_CHECK(b_hat.empty() || static_cast<int>(b_hat.size()) == s, name, ": b_hat has the wrong size");
  for (int i = 0; i < s; ++i) {
    ODEGAN_CHECK(static_cast<int>(a[i].size()) == s, name, ": row ", i, " of a has the wrong size");
    double row = 0;
    for (int j = 0; j < s; ++j) {
      ODEGAN_CHECK(j < i || a[i][j] == 0.0, name, ": a is not strictly lower triangular (explicit methods only)");
      row += a[i][j];
    }
    ODEGAN_CHECK(std::fabs(row - c[i]) < 1e-12, name, ": row ", i, " of a sums to ", row, " but c = ", c[i]);
  }
}

namespace {
ButcherTableau make(std::string name, int order, int emb, std::vector<std::vector<double>> a, std::vector<double> b,
                    std::vector<double> c, std::vector<double> b_hat = {}) {
  ButcherTableau t{std::move(name), order, emb, std::move(a), std::move(b), std::move(c), std::move(b_hat)};
  t.validate();
  return t;
}
}  // namespace

ButcherTableau euler() { return make("euler", 1, 0, {{0}}, {1}, {0}); }

ButcherTableau heun() { return make("heun", 2, 0, {{0, 0}, {1, 0}}, {0.5, 0.5}, {0, 1}); }

ButcherTableau midpoint() { return make("midpoint", 2, 0, {{0, 0}, {0.5, 0}}, {0, 1}, {0, 0.5}); }

ButcherTableau rk4() {
  return make("rk4", 4, 0, {{0, 0, 0, 0}, {0.5, 0, 0, 0}, {0, 0.5, 0, 0}, {0, 0, 1, 0}},
              {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6}, {0, 0.5, 0.5, 1});
}

ButcherTableau extragradient() {
  // Korpelevich (1976): evaluate at the look-ahead point y + h v(y), step from y with that
  // velocity. As a tableau: a21 = 1, b = (0, 1); first order (sum b c = 1, not 1/2), which
  // the paper's Appendix F sets beside the higher-order methods.
  return make("extragradient", 1, 0, {{0, 0}, {1, 0}}, {0, 1}, {0, 1});
}
ButcherTableau fehlberg23() {
  // E. Fehlberg (1969), NASA TR R-315: the order-2 solution advances, the order-3 one
  // estimates its local error (the paper tracks this estimate over training).
  return make("fehlberg", 2, 3,
              {{0, 0, 0, 0},
               {1.0 / 4, 0, 0, 0},
               {-189.0 / 800, 729.0 / 800, 0, 0},
               {214.0 / 891, 1.0 / 33, 650.0 / 891, 0}},
              {214.0 / 891, 1.0 / 33, 650.0 / 891, 0}, {0, 1.0 / 4, 27.0 / 40, 1},
              {533.0 / 2106, 0, 800.0 / 1053, -1.0 / 78});
}

ButcherTableau bogacki_shampine() {
  return make("bs32", 3, 2,
              {{0, 0, 0, 0}, {0.5, 0, 0, 0}, {0, 0.75, 0, 0}, {2.0 / 9, 1.0 / 3, 4.0 / 9, 0}},
              {2.0 / 9, 1.0 / 3, 4.0 / 9, 0}, {0, 0.5, 0.75, 1}, {7.0 / 24, 1.0 / 4, 1.0 / 3, 1.0 / 8});
}

ButcherTableau dormand_prince() {
  return make("dopri5", 5, 4,
              {{0, 0, 0, 0, 0, 0, 0},
               {1.0 / 5, 0, 0, 0, 0, 0, 0},
               {3.0 / 40, 9.0 / 40, 0, 0, 0, 0, 0},
               {44.0 / 45, -56.0 / 15, 32.0 / 9, 0, 0, 0, 0},
               {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729, 0, 0, 0},
               {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656, 0, 0},
               {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0}},
              {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0},
              {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1},
              {5179.0 / 57600, 0, 7571.0 / 16695, 393.0 / 640, -92097.0 / 339200, 187.0 / 2100, 1.0 / 40});
}

ButcherTableau tableau_by_name(const std::string& name) {
  if (name == "euler") return euler();
  if (name == "rk2" || name == "heun") return heun();
  if (name == "midpoint") return midpoint();
  if (name == "rk4") return rk4();
  if (name == "extragradient") return extragradient();
  if (name == "fehlberg" || name == "rkf23") return fehlberg23();
  if (name == "bs32") return bogacki_shampine();
  if (name == "dopri5") return dormand_prince();
  std::string all;
  for (const std::string& n : tableau_names()) all += (all.empty() ? "" : ", ") + n;
  ODEGAN_FAIL("unknown ODE method '", name, "': expected one of ", all);
}

std::vector<std::string> tableau_names() { return {"euler", "rk2", "heun", "midpoint", "rk4", "extragradient", "fehlberg", "bs32", "dopri5"}; }

}  // namespace odegan::solvers
