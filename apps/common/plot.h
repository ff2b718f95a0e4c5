// Small plotting for the apps' figures, written as PNG: an RGB canvas with antialiased
// lines, text (stb_easy_font), and axes that draw line charts, heat maps and contour lines.
// Enough to reproduce the paper's figures without a plotting stack.
#pragma once
#include <array>
#include <string>
#include <vector>

namespace odegan::plot {

struct Color {
  float r = 0, g = 0, b = 0;
};
namespace colors {
inline constexpr Color black{0, 0, 0}, white{1, 1, 1}, gray{0.55f, 0.55f, 0.55f}, light{0.88f, 0.88f, 0.88f},
    red{0.84f, 0.15f, 0.16f}, blue{0.12f, 0.47f, 0.71f}, orange{1.0f, 0.5f, 0.05f}, green{0.17f, 0.63f, 0.17f},
    purple{0.58f, 0.4f, 0.74f}, brown{0.55f, 0.34f, 0.29f};
// A qualitative palette for series.
Color series(int i);
}  // namespace colors

// Maps t in [0, 1] to the "Blues" colour map (white to dark blue).
Color blues(double t);

class Canvas {
 public:
  Canvas(int width, int height, Color background = colors::white);
  int width() const { return w_; }
  int height() const { return h_; }
  // Blends `c` over pixel (x, y) with opacity a.
  void blend(int x, int y, Color c, float a = 1.f);
  void fill_rect(double x0, double y0, double x1, double y1, Color c, float a = 1.f);
  // Antialiased line of the given width (pixels).
  void line(double x0, double y0, double x1, double y1, Color c, double width = 1.0, float a = 1.f);
  void dashed_line(double x0, double y0, double x1, double y1, Color c, double width = 1.0, double dash = 6.0);
  void circle(double cx, double cy, double r, Color c, float a = 1.f);
  // Text at (x, y) (top-left), `scale` times the 8-pixel base font; returns its width.
  double text(double x, double y, const std::string& s, Color c = colors::black, double scale = 1.5);
  static double text_width(const std::string& s, double scale = 1.5);
  void save_png(const std::string& path) const;  // atomic write
  // Copies another canvas at (x, y).
  void paste(const Canvas& other, int x, int y);

 private:
  int w_, h_;
  std::vector<float> rgb_;
};

// A plotting area inside a canvas: data coordinates [x0, x1] x [y0, y1] (y up).
class Axes {
 public:
  Axes(Canvas& canvas, double left, double top, double width, double height);
  void set_limits(double x0, double x1, double y0, double y1);
  void set_log_y(bool on) { log_y_ = on; }
  // Frame, ticks with labels, title and axis labels.
  void draw_frame(const std::string& title = "", const std::string& xlabel = "", const std::string& ylabel = "",
                  bool ticks = true);
  // A polyline in data coordinates, clipped to the plotting area.
  void plot(const std::vector<double>& x, const std::vector<double>& y, Color c, double width = 1.5);
  // One segment in data coordinates, clipped to the plotting area.
  void segment(double x0, double y0, double x1, double y1, Color c, double width = 1.5);
  void scatter(const std::vector<double>& x, const std::vector<double>& y, Color c, double r = 2.0, float a = 1.f);
  void hline(double y, Color c, bool dashed = true, double width = 1.2);
  // Row-major grid values (ny rows from y0 to y1, nx columns from x0 to x1) as colours.
  void heatmap(const std::vector<double>& values, int nx, int ny, double vmin, double vmax);
  // Contour lines of a grid (same layout) at the given levels (marching squares).
  void contour(const std::vector<double>& values, int nx, int ny, const std::vector<double>& levels, Color c,
               double width = 1.0, float a = 0.6f);
  void legend(const std::vector<std::pair<std::string, Color>>& entries);
  double px(double x) const;
  double py(double y) const;
  Canvas& canvas() { return c_; }

 private:
  Canvas& c_;
  double left_, top_, w_, h_;
  double x0_ = 0, x1_ = 1, y0_ = 0, y1_ = 1;
  bool log_y_ = false;
};

// "Nice" tick values covering [lo, hi] (about `target` of them).
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
std::string format_number(double v);
// Min and max of the finite values (falls back to [0, 1]).
std::array<double, 2> finite_range(const std::vector<double>& v);
// Smoothed density of 2-D points on an nx x ny grid over [x0, x1] x [y0, y1]: a histogram
// blurred with a Gaussian of `sigma` grid cells (a fast kernel density estimate).
std::vector<double> density_grid(const std::vector<double>& xs, const std::vector<double>& ys, int nx, int ny,
                                 double x0, double x1, double y0, double y1, double sigma);

}  // namespace odegan::plot
