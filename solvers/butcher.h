// Explicit Runge-Kutta methods as Butcher tableaus: a new method is a table, not code.
//   stage i:  k_i = v(y + h * sum_{j<i} a[i][j] k_j,  t + c[i] h)
//   step:     y1 = y + h * sum_i b[i] k_i;  embedded: y1_hat = y + h * sum_i b_hat[i] k_i
#pragma once
#include <string>
#include <vector>

namespace odegan::solvers {

struct ButcherTableau {
  std::string name;
  int order = 1;                       // order of the solution b
  int embedded_order = 0;              // order of b_hat (0: no embedded method)
  std::vector<std::vector<double>> a;  // s x s, strictly lower triangular
  std::vector<double> b, c;            // s
  std::vector<double> b_hat;           // s, empty when not embedded

  int stages() const { return static_cast<int>(b.size()); }
  bool embedded() const { return !b_hat.empty(); }
  // True when every stage point uses only the previous stage's velocity (Euler, Heun,
  // midpoint, classic RK4): then a step needs just y0, an accumulator and one velocity.
  bool sequential() const;
  // Checks shapes and that the rows of a sum to c (throws naming the method).
  void validate() const;
};

ButcherTableau euler();             // order 1: simultaneous gradient descent
ButcherTableau heun();              // order 2: k2 at y + h k1, weights 1/2 1/2
ButcherTableau midpoint();          // order 2: k2 at y + h/2 k1, weight 1 on k2
ButcherTableau rk4();               // classic order 4
ButcherTableau extragradient();     // order 1: y1 = y + h v(y + h v(y)), the look-ahead step of the extragradient method
ButcherTableau fehlberg23();        // Fehlberg's RK 2(3): steps with order 2, estimates with order 3
ButcherTableau bogacki_shampine();  // 3(2), for adaptive stepping
ButcherTableau dormand_prince();    // 5(4), for adaptive stepping

// By name: euler, rk2 | heun, midpoint, rk4, extragradient, fehlberg | rkf23, bs32, dopri5.
ButcherTableau tableau_by_name(const std::string& name);
std::vector<std::string> tableau_names();

}  // namespace odegan::solvers
