// Benchmark of the primitive kernels: matrix products at the shapes the MoG step uses and
// a large one, DCGAN-sized convolutions (forward, backward-data, backward-filter), and
// memory-bound elementwise/solver kernels. Prints ms, GFLOP/s or GB/s.
//   odegan_bench_kernels [--device cpu|cuda|auto] [--batch 16]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "apps/common/flags.h"
#include "core/rng.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/matmul.h"
#include "kernels/reduce.h"

using namespace odegan;

namespace {

Device g_dev;

void sync() {
  if (g_dev.is_cuda()) Tensor::zeros({1}, DType::f32, g_dev).item();  // a host read waits for the stream
}

// Median-free simple timing: warm up, then repeat until ~0.3 s.
double time_ms(const std::function<void()>& f) {
  f();
  sync();
  int reps = 0;
  auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    f();
    ++reps;
    if (reps % 8 == 0 || !g_dev.is_cuda()) {
      sync();
      elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
  } while (elapsed < 300 && reps < 100000);
  sync();
  elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return elapsed / reps;
}

Tensor rnd(const Shape& s) {
  Tensor t = Tensor::empty(s, DType::f32, g_dev);
  Generator g(s.numel());
  fill_uniform(t, g, -1, 1);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kernel benchmark"};
  app.option_defaults()->always_capture_default();  // --help shows defaults
  std::string device = "auto";
  int64_t batch = 16;
  app.add_option("--device", device, "cpu, cuda or auto");
  app.add_option("--batch", batch, "batch of the convolution benchmarks")->check(odegan::app::flags::integer(1, 4096));
  std::string convs = "sample";
  app.add_option("--convs", convs,
                 "convolutions to time: 'sample' (four DCGAN-sized ones) or 'dcgan' (every convolution of the DCGAN "
                 "pair, the generator's transposed ones as the convolutions they are the adjoints of)")
      ->check(CLI::IsMember({"sample", "dcgan"}));
  CLI11_PARSE(app, argc, argv);
  try {
    g_dev = Device::parse(device);
    std::printf("device %s\n\n%-34s %10s %10s\n", g_dev.str().c_str(), "matmul (M x N x K, transposes)", "ms", "GFLOP/s");
    struct G {
      int64_t m, n, k;
      bool ta, tb;
    };
    for (G s : {G{512, 25, 32, false, true}, G{512, 25, 25, false, false}, G{25, 25, 512, true, false},
                G{1024, 1, 25, false, true}, G{64, 8192, 128, false, true}, G{1024, 1024, 1024, false, false}}) {
      Tensor a = rnd(s.ta ? Shape{s.k, s.m} : Shape{s.m, s.k}), b = rnd(s.tb ? Shape{s.n, s.k} : Shape{s.k, s.n});
      Tensor c = Tensor::empty({s.m, s.n}, DType::f32, g_dev);
      double ms = time_ms([&] { kernels::gemm(a, s.ta, b, s.tb, c); });
      char name[64];
      std::snprintf(name, sizeof name, "%lld x %lld x %lld %s%s", (long long)s.m, (long long)s.n, (long long)s.k,
                    s.ta ? "T" : "N", s.tb ? "T" : "N");
      std::printf("%-34s %10.4f %10.1f\n", name, ms, 2.0 * s.m * s.n * s.k / ms / 1e6);
    }
    std::printf("\n%-34s %10s %10s %10s\n", "conv2d (batch x C x H -> K, k, s)", "fwd ms", "bwd-data", "bwd-filt");
    struct C {
      int64_t c, h, k;
      int r, s;
    };
    const std::vector<C> sample = {{3, 32, 64, 3, 1}, {64, 32, 64, 4, 2}, {128, 16, 128, 4, 2}, {256, 8, 512, 3, 1}};
    // D's seven convolutions, then G's three 4x4 stride-2 transposed convolutions (G's
    // forward is their backward-data; its last 3x3 one is D's first shape).
    const std::vector<C> dcgan = {{3, 32, 64, 3, 1},    {64, 32, 64, 4, 2},  {64, 16, 128, 3, 1}, {128, 16, 128, 4, 2},
                                  {128, 8, 256, 3, 1},  {256, 8, 256, 4, 2}, {256, 4, 512, 3, 1}, {256, 8, 512, 4, 2},
                                  {128, 16, 256, 4, 2}, {64, 32, 128, 4, 2}};
    double total[3] = {0, 0, 0};
    for (C s : convs == "dcgan" ? dcgan : sample) {
      kernels::Conv2dGeometry g = kernels::Conv2dGeometry::make(s.s, 1);
      Tensor x = rnd({batch, s.c, s.h, s.h}), w = rnd({s.k, s.c, s.r, s.r});
      Shape ys = kernels::conv2d_output_shape(x.shape(), w.shape(), g);
      Tensor y = Tensor::empty(ys, DType::f32, g_dev), gy = rnd(ys);
      Tensor gx = Tensor::empty(x.shape(), DType::f32, g_dev), gw = Tensor::empty(w.shape(), DType::f32, g_dev);
      const double flops = 2.0 * ys.numel() * s.c * s.r * s.r;
      double f = time_ms([&] { kernels::conv2d_forward(x, w, y, g); });
      double bd = time_ms([&] { kernels::conv2d_backward_data(gy, w, gx, g); });
      double bf = time_ms([&] { kernels::conv2d_backward_filter(x, gy, gw, g); });
      char name[64];
      std::snprintf(name, sizeof name, "%lld x %lld x %lld -> %lld, %d, %d", (long long)batch, (long long)s.c,
                    (long long)s.h, (long long)s.k, s.r, s.s);
      std::printf("%-34s %10.3f %10.3f %10.3f   (%.1f / %.1f / %.1f GFLOP/s)\n", name, f, bd, bf, flops / f / 1e6,
                  flops / bd / 1e6, flops / bf / 1e6);
      total[0] += f, total[1] += bd, total[2] += bf;
    }
    std::printf("%-34s %10.3f %10.3f %10.3f\n", "total", total[0], total[1], total[2]);
    std::printf("\n%-34s %10s %10s\n", "memory-bound (n floats)", "ms", "GB/s");
    for (int64_t n : {int64_t(2278), int64_t(1) << 20, int64_t(1) << 24}) {
      Tensor x0 = rnd({n}), k1 = rnd({n}), k2 = rnd({n}), out = Tensor::empty({n}, DType::f32, g_dev);
      double lc = time_ms([&] { kernels::lincomb(out, 1.0, x0, {{0.5, k1}, {0.25, k2}}); });
      double ad = time_ms([&] { kernels::binary(kernels::Binary::add, x0, k1, out); });
      double ss = time_ms([&] { kernels::sum_squares(x0); });
      std::printf("lincomb 2 terms, n = %-13lld %10.4f %10.1f\n", (long long)n, lc, 4.0 * 4 * n / lc / 1e6);
      std::printf("add, n = %-25lld %10.4f %10.1f\n", (long long)n, ad, 3.0 * 4 * n / ad / 1e6);
      std::printf("sum_squares, n = %-17lld %10.4f %10.1f\n", (long long)n, ss, 4.0 * n / ss / 1e6);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "odegan_bench_kernels: %s\n", e.what());
    return 1;
  }
  return 0;
}
