// odegan_toy: the paper's Fig. 1. The rotating-field game l_D = eps/2 theta^2 - theta phi,
// l_G = theta phi integrated with Euler, Heun (RK2) and RK4: Euler spirals out, the
// higher-order methods spiral into the Nash point (0, 0) like the exact solution.
//   odegan_toy --out runs/toy [--eps 0.1] [--h 0.2] [--steps 200]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "apps/common/flags.h"
#include "apps/common/plot.h"
#include "apps/common/run.h"
#include "solvers/runge_kutta.h"
#include "solvers/toy_game.h"

using namespace odegan;
using app::json;

int main(int argc, char** argv) {
  return app::run_main("odegan_toy", [&] {
    std::string out = "runs/toy", device = "cpu", methods_arg = "euler,rk2,rk4";
    double eps = 0.1, h = 0.2, theta0 = 1.0, phi0 = 1.0;
    int steps = 200;
    CLI::App cli{"The rotating-field toy of the ODE-GAN paper (Fig. 1)"};
    cli.option_defaults()->always_capture_default();  // --help shows defaults
    cli.add_option("--out", out, "output directory (created if missing)");
    cli.add_option("--device", device, "cpu, cuda or auto (the state is two numbers)");
    namespace flags = app::flags;
    cli.add_option("--methods", methods_arg, "comma-separated ODE methods")->check(flags::list());
    cli.add_option("--eps", eps, "epsilon of the game (0 <= eps < 2)")->check(flags::real(0, 2, false, true));
    cli.add_option("--h", h, "step size")->check(flags::positive());
    cli.add_option("--steps", steps, "number of steps")->check(flags::integer(1, 10'000'000));
    // Bounded so that the trajectories and the figure's ranges stay finite.
    cli.add_option("--theta0", theta0, "initial theta")->check(flags::real(-1e100, 1e100));
    cli.add_option("--phi0", phi0, "initial phi")->check(flags::real(-1e100, 1e100));
    try {
      cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli.exit(e);
    }
    ODEGAN_CHECK(h > 0 && steps > 0, "--h and --steps must be positive");
    app::prepare_dir(out);
    const Device dev = Device::parse(device);
    solvers::RotatingGame game(eps);
    const std::vector<std::string> methods = flags::split(methods_arg);
    for (const std::string& m : methods) solvers::tableau_by_name(m);  // unknown names before any output

    std::ostringstream csv;  // written atomically below
    csv << "method,step,t,theta,phi,exact_theta,exact_phi\n";
    json result = {{"eps", eps}, {"h", h}, {"steps", steps}, {"theta0", theta0}, {"phi0", phi0}};
    json per_method = json::object();
    std::vector<std::vector<double>> th_all, ph_all, dist_all;
    std::vector<double> ex_th, ex_ph;
    for (int i = 0; i <= steps; ++i) {
      auto e = game.exact({theta0, phi0}, i * h);
      ex_th.push_back(e[0]);
      ex_ph.push_back(e[1]);
    }
    std::printf("%-10s %14s %14s %16s\n", "method", "final |y|", "exact |y|", "|y - exact|");
    for (const std::string& m : methods) {
      solvers::RungeKutta rk(solvers::tableau_by_name(m));
      Tensor y = Tensor::from_vector<double>({theta0, phi0}, {2}, dev);
      std::vector<double> th{theta0}, ph{phi0}, dist{std::hypot(theta0, phi0)};
      csv << m << ",0,0," << theta0 << "," << phi0 << "," << theta0 << "," << phi0 << "\n";
      for (int i = 1; i <= steps; ++i) {
        rk.step(y, (i - 1) * h, h, [&](const Tensor& s, double t, Tensor& v) { game.velocity(s, t, v); });
        std::vector<double> v = y.to_vector<double>();
        th.push_back(v[0]);
        ph.push_back(v[1]);
        dist.push_back(std::hypot(v[0], v[1]));
        csv << m << "," << i << "," << i * h << "," << v[0] << "," << v[1] << "," << ex_th[i] << "," << ex_ph[i] << "\n";
      }
      const double exact_dist = std::hypot(ex_th.back(), ex_ph.back());
      const double err = std::hypot(th.back() - ex_th.back(), ph.back() - ex_ph.back());
      std::printf("%-10s %14.6g %14.6g %16.6g  %s\n", m.c_str(), dist.back(), exact_dist, err,
                  dist.back() > dist.front() ? "diverges" : "converges to the Nash point");
      per_method[m] = {{"final_distance_to_nash", dist.back()},
                       {"error_vs_exact", err},
                       {"converges", dist.back() < dist.front()}};
      th_all.push_back(th);
      ph_all.push_back(ph);
      dist_all.push_back(dist);
    }
    app::write_text(out + "/trajectories.csv", csv.str());
    result["methods"] = per_method;
    result["exact_final_distance_to_nash"] = std::hypot(ex_th.back(), ex_ph.back());
    app::write_json(out + "/toy.json", result);

    // Phase portraits (one panel per method, the exact solution dashed) and the distance
    // to the Nash point over time (log scale).
    const double panel = 300, pad = 60;
    plot::Canvas cv(static_cast<int>(pad + methods.size() * (panel + pad) + 460), static_cast<int>(panel + 2 * pad));
    for (size_t k = 0; k < methods.size(); ++k) {
      plot::Axes ax(cv, pad + k * (panel + pad), pad, panel, panel);
      // Show the whole trajectory, up to three times the start's distance (then clipped).
      double extent = 0;
      for (double v : dist_all[k])
        if (std::isfinite(v)) extent = std::max(extent, v);
      const double view = 1.15 * std::min(extent, 3 * std::hypot(theta0, phi0));
      ax.set_limits(-view, view, -view, view);
      for (size_t i = 1; i < ex_th.size(); ++i)
        if (i % 2) ax.segment(ex_th[i - 1], ex_ph[i - 1], ex_th[i], ex_ph[i], plot::colors::gray, 1.2);
      ax.plot(th_all[k], ph_all[k], plot::colors::series(static_cast<int>(k)), 1.6);
      ax.scatter({0.0}, {0.0}, plot::colors::red, 4.0);
      ax.scatter({theta0}, {phi0}, plot::colors::black, 3.5);
      char title[96];
      std::snprintf(title, sizeof title, "%s, h = %g", methods[k].c_str(), h);
      ax.draw_frame(title, "theta", "phi");
    }
    plot::Axes d(cv, pad + methods.size() * (panel + pad) + 30, pad, 380, panel);
    std::vector<double> t, exact_dist;
    double lo = INFINITY, hi = 0;
    for (int i = 0; i <= steps; ++i) t.push_back(i * h), exact_dist.push_back(std::hypot(ex_th[i], ex_ph[i]));
    for (auto& dv : dist_all)
      for (double x : dv)
        if (std::isfinite(x) && x > 0) lo = std::min(lo, x), hi = std::max(hi, x);
    for (double x : exact_dist) lo = std::min(lo, x), hi = std::max(hi, x);
    d.set_log_y(true);
    d.set_limits(0, steps * h, lo * 0.8, hi * 1.25);
    std::vector<std::pair<std::string, plot::Color>> legend;
    for (size_t k = 0; k < methods.size(); ++k) {
      d.plot(t, dist_all[k], plot::colors::series(static_cast<int>(k)), 1.6);
      legend.push_back({methods[k], plot::colors::series(static_cast<int>(k))});
    }
    d.plot(t, exact_dist, plot::colors::gray, 1.2);
    legend.push_back({"exact", plot::colors::gray});
    d.draw_frame("distance to the Nash point", "t", "");
    d.legend(legend);
    cv.save_png(out + "/toy.png");
    std::printf("wrote %s/{toy.json,trajectories.csv,toy.png}\n", out.c_str());
    return 0;
  });
}
