// Benchmark of the image-folder data path on the CPU: decoding (JPEG), centre crop and
// area-averaging resize to 128x128, batched by the loader's worker threads.
// Writes synthetic JPEGs (ImageNet-like 500x375) to a temporary folder first.
//   odegan_bench_loader [--images 256] [--size 128] [--threads 1,2,4]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "apps/common/flags.h"
#include "apps/common/run.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/loader.h"

using namespace odegan;

int main(int argc, char** argv) {
  CLI::App cli{"Image-folder loader throughput (decode + crop + resize), CPU"};
  cli.option_defaults()->always_capture_default();  // --help shows defaults
  int images = 256, size = 128, batch = 32;
  std::string threads_arg = "1,2,4";
  namespace flags = app::flags;
  cli.add_option("--images", images, "synthetic images to write")->check(flags::integer(1, 1'000'000));
  cli.add_option("--size", size, "output side")->check(flags::integer(4, 4096));
  cli.add_option("--batch", batch, "batch size")->check(flags::integer(1, 1 << 16));
  cli.add_option("--threads", threads_arg, "loader thread counts to try")->check(flags::integer_list(0, 1024));
  CLI11_PARSE(cli, argc, argv);
  return app::run_main("odegan_bench_loader", [&] {
    namespace fs = std::filesystem;
    const std::string root = (fs::temp_directory_path() / ("odegan-bench-loader-" + std::to_string(getpid()))).string();
    struct RemoveOnExit {  // also when an error ends the benchmark
      std::string dir;
      ~RemoveOnExit() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    } cleanup{root};
    for (int c = 0; c < 4; ++c) fs::create_directories(root + "/class" + std::to_string(c));
    data::Image img;
    img.height = 375, img.width = 500, img.channels = 3;
    img.px.resize(375 * 500 * 3);
    for (int i = 0; i < images; ++i) {
      // Smooth gradients with some texture, so the JPEGs are of a realistic size.
      for (int y = 0; y < 375; ++y)
        for (int x = 0; x < 500; ++x)
          for (int ch = 0; ch < 3; ++ch)
            img.at(y, x, ch) = static_cast<float>((x * (ch + 1) + y * 2 + i * 17 + ((x * y) % 13) * 4) % 256);
      data::write_jpeg(root + "/class" + std::to_string(i % 4) + "/img" + std::to_string(i) + ".JPEG", img, 90);
    }
    auto ds = std::make_shared<data::ImageFolderDataset>(root, size);
    std::printf("%d JPEG images 500x375 -> %dx%d, batch %d\n", images, size, size, batch);
    std::stringstream ss(threads_arg);
    for (std::string t; std::getline(ss, t, ',');) {
      data::LoaderOptions o;
      o.batch = batch;
      o.threads = static_cast<int>(flags::parse_integers(t, "--threads", 0, 1024)[0]);
      data::Loader loader(ds, o);
      loader.next();  // warm-up
      const int n = std::max(1, images / batch - 1);
      auto t0 = std::chrono::steady_clock::now();
      for (int b = 0; b < n; ++b) loader.next();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("threads %-3s %8.1f images/s\n", t.c_str(), n * batch / s);
    }
    return 0;
  });
}
