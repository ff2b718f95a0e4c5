#include "apps/common/plot.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "apps/common/run.h"
#include "core/error.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wshadow"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop
#include <stb_image_write.h>

namespace odegan::plot {

Color colors::series(int i) {
  static const Color p[] = {blue, orange, green, red, purple, brown, gray};
  return p[static_cast<size_t>(i) % (sizeof(p) / sizeof(p[0]))];
}

Color blues(double t) {
  // Piecewise-linear through matplotlib's "Blues" anchor colours.
  static const float a[][3] = {{0.97f, 0.98f, 1.0f},  {0.87f, 0.92f, 0.97f}, {0.78f, 0.86f, 0.94f},
                               {0.62f, 0.79f, 0.88f}, {0.42f, 0.68f, 0.84f}, {0.26f, 0.57f, 0.78f},
                               {0.13f, 0.44f, 0.71f}, {0.03f, 0.32f, 0.61f}, {0.03f, 0.19f, 0.42f}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 8.0;
  int i = std::min(7, static_cast<int>(t));
  float f = static_cast<float>(t - i);
  return {a[i][0] + f * (a[i + 1][0] - a[i][0]), a[i][1] + f * (a[i + 1][1] - a[i][1]),
          a[i][2] + f * (a[i + 1][2] - a[i][2])};
}

// ---------------------------------------------------------------- canvas

Canvas::Canvas(int width, int height, Color bg) : w_(width), h_(height), rgb_(static_cast<size_t>(width * height * 3)) {
  for (size_t i = 0; i < rgb_.size(); i += 3) rgb_[i] = bg.r, rgb_[i + 1] = bg.g, rgb_[i + 2] = bg.b;
}

void Canvas::blend(int x, int y, Color c, float a) {
  if (x < 0 || y < 0 || x >= w_ || y >= h_ || a <= 0) return;
  a = std::min(a, 1.f);
  float* p = &rgb_[static_cast<size_t>((y * w_ + x) * 3)];
  p[0] += a * (c.r - p[0]);
  p[1] += a * (c.g - p[1]);
  p[2] += a * (c.b - p[2]);
}

void Canvas::fill_rect(double x0, double y0, double x1, double y1, Color c, float a) {
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  for (int y = std::max(0, static_cast<int>(std::floor(y0))); y < std::min(h_, static_cast<int>(std::ceil(y1))); ++y)
    for (int x = std::max(0, static_cast<int>(std::floor(x0))); x < std::min(w_, static_cast<int>(std::ceil(x1)));
         ++x) {
      // Coverage of the pixel by the rectangle (antialiased edges).
      double cx = std::min(x1, x + 1.0) - std::max(x0, double(x)), cy = std::min(y1, y + 1.0) - std::max(y0, double(y));
      blend(x, y, c, a * static_cast<float>(std::clamp(cx, 0.0, 1.0) * std::clamp(cy, 0.0, 1.0)));
    }
}

void Canvas::line(double x0, double y0, double x1, double y1, Color c, double width, float a) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  const double r = width / 2 + 0.5;
  const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  const int xa = std::max(0, static_cast<int>(std::floor(std::min(x0, x1) - r)));
  const int xb = std::min(w_ - 1, static_cast<int>(std::ceil(std::max(x0, x1) + r)));
  const int ya = std::max(0, static_cast<int>(std::floor(std::min(y0, y1) - r)));
  const int yb = std::min(h_ - 1, static_cast<int>(std::ceil(std::max(y0, y1) + r)));
  for (int y = ya; y <= yb; ++y)
    for (int x = xa; x <= xb; ++x) {
      const double px = x + 0.5, py = y + 0.5;
      double t = len2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / len2 : 0;
      t = std::clamp(t, 0.0, 1.0);
      const double d = std::hypot(px - (x0 + t * dx), py - (y0 + t * dy));
      const double cov = std::clamp(width / 2 + 0.5 - d, 0.0, 1.0);
      if (cov > 0) blend(x, y, c, a * static_cast<float>(cov));
    }
}

void Canvas::dashed_line(double x0, double y0, double x1, double y1, Color c, double width, double dash) {
  const double len = std::hypot(x1 - x0, y1 - y0);
  for (double s = 0; s < len; s += 2 * dash) {
    const double e = std::min(len, s + dash);
    line(x0 + (x1 - x0) * s / len, y0 + (y1 - y0) * s / len, x0 + (x1 - x0) * e / len, y0 + (y1 - y0) * e / len, c,
         width);
  }
}

void Canvas::circle(double cx, double cy, double r, Color c, float a) {
  for (int y = static_cast<int>(cy - r - 1); y <= static_cast<int>(cy + r + 1); ++y)
    for (int x = static_cast<int>(cx - r - 1); x <= static_cast<int>(cx + r + 1); ++x) {
      const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
      blend(x, y, c, a * static_cast<float>(std::clamp(r + 0.5 - d, 0.0, 1.0)));
    }
}

double Canvas::text_width(const std::string& s, double scale) {
  std::string copy = s;
  return stb_easy_font_width(copy.data()) * scale;
}

double Canvas::text(double x, double y, const std::string& s, Color c, double scale) {
  std::string copy = s;
  static thread_local std::vector<char> buf(1 << 16);
  unsigned char col[4] = {0, 0, 0, 255};
  const int quads = stb_easy_font_print(0, 0, copy.data(), col, buf.data(), static_cast<int>(buf.size()));
  for (int q = 0; q < quads; ++q) {
    // 4 vertices of 16 bytes: x, y, z (floats) and a colour.
    float v0[2], v2[2];
    std::memcpy(v0, buf.data() + (q * 4 + 0) * 16, sizeof v0);
    std::memcpy(v2, buf.data() + (q * 4 + 2) * 16, sizeof v2);
    fill_rect(x + v0[0] * scale, y + v0[1] * scale, x + v2[0] * scale, y + v2[1] * scale, c);
  }
  return text_width(s, scale);
}

void Canvas::paste(const Canvas& o, int x, int y) {
  for (int j = 0; j < o.h_; ++j)
    for (int i = 0; i < o.w_; ++i) {
      const float* p = &o.rgb_[static_cast<size_t>((j * o.w_ + i) * 3)];
      blend(x + i, y + j, {p[0], p[1], p[2]});
    }
}

void Canvas::save_png(const std::string& path) const {
  std::vector<unsigned char> px(rgb_.size());
  for (size_t i = 0; i < rgb_.size(); ++i)
    px[i] = static_cast<unsigned char>(std::lround(std::clamp(rgb_[i], 0.f, 1.f) * 255.f));
  app::write_file_via(path, [&](const std::string& tmp) {
    ODEGAN_CHECK(stbi_write_png(tmp.c_str(), w_, h_, 3, px.data(), w_ * 3) != 0, "cannot write PNG '", path, "'");
  });
}

// ---------------------------------------------------------------- axes

Axes::Axes(Canvas& canvas, double left, double top, double width, double height)
    : c_(canvas), left_(left), top_(top), w_(width), h_(height) {}

void Axes::set_limits(double x0, double x1, double y0, double y1) {
  // Non-finite limits (from diverged values) fall back to a unit range.
  if (!std::isfinite(x0) || !std::isfinite(x1)) x0 = 0, x1 = 1;
  if (!std::isfinite(y0) || !std::isfinite(y1)) y0 = 0, y1 = 1;
  if (x1 <= x0) x1 = x0 + 1;
  if (x1 <= x0) x1 = x0 + std::fabs(x0) * 0.1;  // x0 + 1 == x0 for huge x0
  if (y1 <= y0) y1 = y0 + (y0 == 0 ? 1 : std::fabs(y0) * 0.1);
  x0_ = x0, x1_ = x1, y0_ = y0, y1_ = y1;
}

double Axes::px(double x) const { return left_ + (x - x0_) / (x1_ - x0_) * w_; }

double Axes::py(double y) const {
  if (log_y_) {
    const double l0 = std::log10(std::max(y0_, 1e-30)), l1 = std::log10(std::max(y1_, 1e-30));
    return top_ + h_ - (std::log10(std::max(y, 1e-30)) - l0) / (l1 - l0) * h_;
  }
  return top_ + h_ - (y - y0_) / (y1_ - y0_) * h_;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> t;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return t;
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  // No ticks where the step vanishes next to the values (1e20 + 1 == 1e20) or overflows:
  // the loop below would never end.
  const double first = std::ceil(lo / step) * step;
  if (!std::isfinite(step) || !std::isfinite(first) || !(first + step > first) || (hi - lo) / step > 1000) return t;
  for (double v = first; v <= hi + step * 1e-9 && t.size() <= 1000; v += step)
    t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  return t;
}

std::string format_number(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e5 || a < 1e-3))
    std::snprintf(buf, sizeof buf, "%.0e", v);
  else
    std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::array<double, 2> finite_range(const std::vector<double>& v) {
  double lo = INFINITY, hi = -INFINITY;
  for (double x : v)
    if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  if (!(lo <= hi)) return {0, 1};
  return {lo, hi};
}

void Axes::draw_frame(const std::string& title, const std::string& xlabel, const std::string& ylabel, bool ticks) {
  const Color k = colors::black;
  c_.line(left_, top_, left_ + w_, top_, k);
  c_.line(left_, top_ + h_, left_ + w_, top_ + h_, k);
  c_.line(left_, top_, left_, top_ + h_, k);
  c_.line(left_ + w_, top_, left_ + w_, top_ + h_, k);
  if (ticks) {
    for (double t : nice_ticks(x0_, x1_)) {
      const double x = px(t);
      c_.line(x, top_ + h_, x, top_ + h_ + 4, k);
      const std::string s = format_number(t);
      c_.text(x - Canvas::text_width(s, 1.3) / 2, top_ + h_ + 7, s, k, 1.3);
    }
    std::vector<double> yt;
    if (log_y_) {
      const double e0 = std::floor(std::log10(std::max(y0_, 1e-30))), e1 = std::ceil(std::log10(y1_));
      for (double e = e0; std::isfinite(e1) && e <= e1 && e - e0 < 1000; e += 1)
        if (std::pow(10, e) >= y0_ * 0.999 && std::pow(10, e) <= y1_ * 1.001) yt.push_back(std::pow(10, e));
    } else {
      yt = nice_ticks(y0_, y1_);
    }
    for (double t : yt) {
      const double y = py(t);
      c_.line(left_ - 4, y, left_, y, k);
      const std::string s = format_number(t);
      c_.text(left_ - 7 - Canvas::text_width(s, 1.3), y - 5, s, k, 1.3);
    }
  }
  if (!title.empty()) c_.text(left_ + w_ / 2 - Canvas::text_width(title, 1.6) / 2, top_ - 18, title, k, 1.6);
  if (!xlabel.empty()) c_.text(left_ + w_ / 2 - Canvas::text_width(xlabel, 1.4) / 2, top_ + h_ + 24, xlabel, k, 1.4);
  if (!ylabel.empty()) c_.text(left_ - 10 - Canvas::text_width(ylabel, 1.4), top_ - 16, ylabel, k, 1.4);
}

void Axes::segment(double x0, double y0, double x1, double y1, Color c, double width) {
  // Liang-Barsky clipping in pixel space.
  double ax = px(x0), ay = py(y0), bx = px(x1), by = py(y1);
  if (!std::isfinite(ax) || !std::isfinite(ay) || !std::isfinite(bx) || !std::isfinite(by)) return;
  double t0 = 0, t1 = 1;
  const double dx = bx - ax, dy = by - ay;
  const double p[4] = {-dx, dx, -dy, dy}, q[4] = {ax - left_, left_ + w_ - ax, ay - top_, top_ + h_ - ay};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return;
      continue;
    }
    const double r = q[i] / p[i];
    if (p[i] < 0)
      t0 = std::max(t0, r);
    else
      t1 = std::min(t1, r);
    if (t0 > t1) return;
  }
  c_.line(ax + t0 * dx, ay + t0 * dy, ax + t1 * dx, ay + t1 * dy, c, width);
}

void Axes::plot(const std::vector<double>& x, const std::vector<double>& y, Color c, double width) {
  for (size_t i = 1; i < std::min(x.size(), y.size()); ++i) segment(x[i - 1], y[i - 1], x[i], y[i], c, width);
}

void Axes::scatter(const std::vector<double>& x, const std::vector<double>& y, Color c, double r, float a) {
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
    const double X = px(x[i]), Y = py(y[i]);
    if (X >= left_ && X <= left_ + w_ && Y >= top_ && Y <= top_ + h_) c_.circle(X, Y, r, c, a);
  }
}

void Axes::hline(double y, Color c, bool dashed, double width) {
  if (!std::isfinite(y) || y < y0_ || y > y1_) return;
  if (dashed)
    c_.dashed_line(left_, py(y), left_ + w_, py(y), c, width);
  else
    c_.line(left_, py(y), left_ + w_, py(y), c, width);
}

void Axes::heatmap(const std::vector<double>& v, int nx, int ny, double vmin, double vmax) {
  const double cw = w_ / nx, ch = h_ / ny;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const double t = (v[static_cast<size_t>(j * nx + i)] - vmin) / (vmax - vmin);
      // Row j is at data y increasing upwards: draw from the bottom.
      c_.fill_rect(left_ + i * cw, top_ + h_ - (j + 1) * ch, left_ + (i + 1) * cw, top_ + h_ - j * ch, blues(t));
    }
}

void Axes::contour(const std::vector<double>& v, int nx, int ny, const std::vector<double>& levels, Color c,
                   double width, float a) {
  // Grid point (i, j) sits at the centre of heat-map cell (i, j).
  auto gx = [&](double i) { return left_ + (i + 0.5) * w_ / nx; };
  auto gy = [&](double j) { return top_ + h_ - (j + 0.5) * h_ / ny; };
  for (double lv : levels)
    for (int j = 0; j + 1 < ny; ++j)
      for (int i = 0; i + 1 < nx; ++i) {
        const double q[4] = {v[j * nx + i], v[j * nx + i + 1], v[(j + 1) * nx + i + 1], v[(j + 1) * nx + i]};
        // Corners in order (0,0) (1,0) (1,1) (0,1); crossing points on the 4 edges.
        const double cx[4] = {0, 1, 1, 0}, cy[4] = {0, 0, 1, 1};
        double pts[4][2];
        int n = 0;
        for (int e = 0; e < 4; ++e) {
          const int f = (e + 1) % 4;
          if ((q[e] < lv) != (q[f] < lv)) {
            const double t = (lv - q[e]) / (q[f] - q[e]);
            pts[n][0] = i + cx[e] + t * (cx[f] - cx[e]);
            pts[n][1] = j + cy[e] + t * (cy[f] - cy[e]);
            ++n;
          }
        }
        for (int k = 0; k + 1 < n; k += 2)
          c_.line(gx(pts[k][0]), gy(pts[k][1]), gx(pts[k + 1][0]), gy(pts[k + 1][1]), c, width, a);
      }
}

void Axes::legend(const std::vector<std::pair<std::string, Color>>& entries) {
  double widest = 0;
  for (const auto& e : entries) widest = std::max(widest, Canvas::text_width(e.first, 1.3));
  const double x = left_ + w_ - widest - 40, y = top_ + 8;
  c_.fill_rect(x - 6, y - 4, left_ + w_ - 4, y + entries.size() * 16 + 2, colors::white, 0.85f);
  for (size_t k = 0; k < entries.size(); ++k) {
    const double yy = y + k * 16 + 6;
    c_.line(x, yy, x + 22, yy, entries[k].second, 2.0);
    c_.text(x + 28, yy - 5, entries[k].first, colors::black, 1.3);
  }
}

std::vector<double> density_grid(const std::vector<double>& xs, const std::vector<double>& ys, int nx, int ny,
                                 double x0, double x1, double y0, double y1, double sigma) {
  std::vector<double> h(static_cast<size_t>(nx * ny), 0.0);
  for (size_t k = 0; k < std::min(xs.size(), ys.size()); ++k) {
    const int i = static_cast<int>(std::floor((xs[k] - x0) / (x1 - x0) * nx));
    const int j = static_cast<int>(std::floor((ys[k] - y0) / (y1 - y0) * ny));
    if (i >= 0 && i < nx && j >= 0 && j < ny) h[static_cast<size_t>(j * nx + i)] += 1;
  }
  // Separable Gaussian blur.
  const int r = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  std::vector<double> k(static_cast<size_t>(2 * r + 1));
  for (int d = -r; d <= r; ++d) k[static_cast<size_t>(d + r)] = std::exp(-0.5 * d * d / (sigma * sigma));
  std::vector<double> tmp(h.size(), 0.0);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      double s = 0;
      for (int d = -r; d <= r; ++d)
        if (i + d >= 0 && i + d < nx) s += k[static_cast<size_t>(d + r)] * h[static_cast<size_t>(j * nx + i + d)];
      tmp[static_cast<size_t>(j * nx + i)] = s;
    }
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      double s = 0;
      for (int d = -r; d <= r; ++d)
        if (j + d >= 0 && j + d < ny) s += k[static_cast<size_t>(d + r)] * tmp[static_cast<size_t>((j + d) * nx + i)];
      h[static_cast<size_t>(j * nx + i)] = s;
    }
  return h;
}

}  // namespace odegan::plot
