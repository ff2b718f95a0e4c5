#include "apps/common/mog_figures.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/common/plot.h"
#include "autodiff/var.h"
#include "core/safetensors.h"

namespace odegan::app {

namespace {
constexpr int kGrid = 100;
constexpr double kLo = -2.0, kHi = 2.0;

std::string snapshot_path(const std::string& dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "/step-%09lld.safetensors", static_cast<long long>(step));
  return dir + name;
}

// One panel: generator density (blue) with discriminator contours (black).
void draw_snapshot(plot::Canvas& cv, double left, double top, double size, const std::string& file,
                   const std::string& title) {
  plot::Axes ax(cv, left, top, size, size);
  ax.set_limits(kLo, kHi, kLo, kHi);
  if (!std::filesystem::exists(file)) {
    ax.draw_frame(title + " (missing)", "", "", false);
    return;
  }
  TensorMap snap = load_safetensors(file);
  std::vector<double> s = snap.at("samples").to_vector<double>();
  std::vector<double> xs, ys;
  for (size_t i = 0; i + 1 < s.size(); i += 2) xs.push_back(s[i]), ys.push_back(s[i + 1]);
  const int res = 160;
  std::vector<double> dens = plot::density_grid(xs, ys, res, res, kLo, kHi, kLo, kHi, 1.2);
  double peak = 0;
  for (double v : dens) peak = std::max(peak, v);
  ax.heatmap(dens, res, res, 0.0, peak > 0 ? peak : 1.0);
  std::vector<double> dg = snap.at("d_grid").to_vector<double>();
  auto r = plot::finite_range(dg);
  std::vector<double> levels;
  for (int k = 1; k < 16; ++k) levels.push_back(r[0] + (r[1] - r[0]) * k / 16.0);
  ax.contour(dg, kGrid, kGrid, levels, plot::colors::black, 1.0, 0.55f);
  ax.draw_frame(title, "", "", false);
}

}  // namespace

void save_mog_snapshot(const std::string& dir, int64_t step, nn::Module& g, nn::Module& d, const Tensor& z) {
  prepare_dir(dir);
  ad::NoGradGuard no_grad;
  g.eval();
  d.eval();
  Tensor samples = g(ad::Var(z)).data();
  std::vector<double> pts;
  for (int j = 0; j < kGrid; ++j)
    for (int i = 0; i < kGrid; ++i) {
      pts.push_back(kLo + (kHi - kLo) * (i + 0.5) / kGrid);
      pts.push_back(kLo + (kHi - kLo) * (j + 0.5) / kGrid);
    }
  Tensor grid = Tensor::from_doubles(pts, {kGrid * kGrid, 2}, z.dtype(), z.device());
  Tensor logits = d(ad::Var(grid)).data().reshape({kGrid, kGrid});
  g.train();
  d.train();
  write_file_via(snapshot_path(dir, step), [&](const std::string& tmp) {
    save_safetensors(tmp, {{"samples", samples.to(Device::cpu())}, {"d_grid", logits.to(Device::cpu())}},
                     {{"step", std::to_string(step)}});
  });
}

void write_mog_figures(const std::string& run, const MetricsLog& log, const std::vector<int64_t>& steps,
                       const std::string& method, solvers::GanLoss loss) {
  const std::vector<double> step = log.column("step"), ld = log.column("loss_d"), lg = log.column("loss_g"),
                            gd = log.column("grad_norm_d"), gg = log.column("grad_norm_g");
  const double panel = 260, pad = 40;
  // mog.png: four snapshots, then losses and gradient norms stacked on the right.
  {
    plot::Canvas cv(static_cast<int>(pad + steps.size() * (panel + pad) + 420), static_cast<int>(panel + 2 * pad + 30));
    for (size_t k = 0; k < steps.size(); ++k)
      draw_snapshot(cv, pad + k * (panel + pad), pad + 10, panel, snapshot_path(run + "/snapshots", steps[k]),
                    method + ", step " + std::to_string(steps[k]));
    const double left = pad + steps.size() * (panel + pad) + 50, w = 340, h = (panel - 40) / 2;
    plot::Axes a1(cv, left, pad + 10, w, h);
    auto r = plot::finite_range(ld);
    auto r2 = plot::finite_range(lg);
    double lo = std::min({r[0], r2[0], solvers::nash_loss_g(loss)}), hi = std::max({r[1], r2[1], solvers::nash_loss_d(loss)});
    a1.set_limits(step.empty() ? 0 : step.front(), step.empty() ? 1 : step.back(), lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo));
    a1.plot(step, ld, plot::colors::blue, 1.0);
    a1.plot(step, lg, plot::colors::orange, 1.0);
    a1.hline(solvers::nash_loss_d(loss), plot::colors::red);
    a1.hline(solvers::nash_loss_g(loss), plot::colors::red);
    a1.draw_frame("losses", "", "");
    a1.legend({{"l_D", plot::colors::blue}, {"l_G", plot::colors::orange}, {"Nash", plot::colors::red}});
    plot::Axes a2(cv, left, pad + 10 + h + 40, w, h);
    auto n1 = plot::finite_range(gd), n2 = plot::finite_range(gg);
    a2.set_log_y(true);
    a2.set_limits(step.empty() ? 0 : step.front(), step.empty() ? 1 : step.back(),
                  std::max(1e-6, std::min(n1[0], n2[0])), std::max({n1[1], n2[1], 1e-5}));
    a2.plot(step, gd, plot::colors::blue, 1.0);
    a2.plot(step, gg, plot::colors::orange, 1.0);
    a2.draw_frame("gradient norms", "step", "");
    a2.legend({{"|dl_D/dtheta|", plot::colors::blue}, {"|dl_G/dphi|", plot::colors::orange}});
    cv.save_png(run + "/mog.png");
  }
  // losses.png: the loss curves alone, larger, with the Nash values.
  {
    plot::Canvas cv(900, 420);
    plot::Axes ax(cv, 80, 40, 780, 320);
    auto r = plot::finite_range(ld);
    auto r2 = plot::finite_range(lg);
    double lo = std::min({r[0], r2[0], solvers::nash_loss_g(loss)}), hi = std::max({r[1], r2[1], solvers::nash_loss_d(loss)});
    ax.set_limits(step.empty() ? 0 : step.front(), step.empty() ? 1 : step.back(), lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo));
    ax.plot(step, ld, plot::colors::blue, 1.0);
    ax.plot(step, lg, plot::colors::orange, 1.0);
    ax.hline(solvers::nash_loss_d(loss), plot::colors::red);
    ax.hline(solvers::nash_loss_g(loss), plot::colors::red);
    ax.draw_frame(method + ": discriminator and generator losses", "step", "loss");
    ax.legend({{"l_D", plot::colors::blue}, {"l_G", plot::colors::orange}, {"Nash (log 4, log 2)", plot::colors::red}});
    cv.save_png(run + "/losses.png");
  }
}

void write_mog_comparison(const std::string& out, const std::vector<std::string>& methods,
                          const std::vector<int64_t>& steps) {
  const double panel = 240, pad = 40;
  plot::Canvas cv(static_cast<int>(pad + steps.size() * (panel + pad)),
                  static_cast<int>(pad + methods.size() * (panel + pad + 10)));
  for (size_t r = 0; r < methods.size(); ++r)
    for (size_t k = 0; k < steps.size(); ++k)
      draw_snapshot(cv, pad + k * (panel + pad), pad + r * (panel + pad + 10), panel,
                    snapshot_path(out + "/" + methods[r] + "/snapshots", steps[k]),
                    methods[r] + ", step " + std::to_string(steps[k]));
  cv.save_png(out + "/compare.png");
}

}  // namespace odegan::app
