// odegan_sample: loads a generator from a run directory's checkpoint and writes a PNG
// grid of samples and, optionally, N individual PNG images (for external FID/IS tools).
//   odegan_sample --run runs/cifar --out runs/cifar/eval --n 50000
#include <CLI/CLI.hpp>
#include <cstdio>

#include "apps/common/progress.h"
#include "apps/common/run_generator.h"
#include "data/image.h"

using namespace odegan;

int main(int argc, char** argv) {
  return app::run_main("odegan_sample", [&] {
    std::string run, out, device = "auto", checkpoint;
    int64_t n = 0, steps = -1, batch = 100;
    uint64_t seed = 0;
    int cols = 8;
    CLI::App cli{"Samples from a trained generator (a run directory of odegan_cifar10 / odegan_imagenet)"};
    cli.option_defaults()->always_capture_default();  // --help shows defaults
    cli.add_option("--run", run, "run directory (holds config.json and checkpoints/)")->required();
    cli.add_option("--out", out, "output directory (default <run>/sampled)");
    cli.add_option("--device", device, "cpu, cuda, cuda:N or auto");
    cli.add_option("--steps", steps, "use the checkpoint of this step (default: the latest)");
    cli.add_option("--checkpoint", checkpoint, "an explicit checkpoint file");
    cli.add_option("--n", n, "also write N individual images to <out>/images/");
    cli.add_option("--seed", seed, "noise seed");
    cli.add_option("--cols", cols, "grid columns (the grid shows cols x cols samples)");
    try {
      cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli.exit(e);
    }
    // The run is read first, so a wrong --run leaves no stray <run>/sampled behind.
    const app::RunGenerator g = app::load_run_generator(run, device, steps, checkpoint);
    if (out.empty()) out = run + "/sampled";
    app::prepare_dir(out);
    Generator noise(seed);
    auto draw = [&](int64_t count, int64_t first_label) { return g.sample(count, first_label, noise); };
    data::write_image_grid(out + "/grid.png", draw(int64_t(cols) * cols, 0), cols);
    std::printf("wrote %s/grid.png from %s\n", out.c_str(), g.checkpoint.c_str());
    if (n > 0) {
      app::prepare_dir(out + "/images");
      app::Progress progress(n, "images");
      for (int64_t done = 0; done < n;) {
        const int64_t k = std::min(batch, n - done);
        // Each file is exactly one generator output (no grid border), for external FID tools.
        const std::vector<data::Image> images = data::images_from_tensor(draw(k, done));
        for (int64_t i = 0; i < k; ++i) {
          char name[64];
          std::snprintf(name, sizeof name, "/images/%06lld.png", static_cast<long long>(done + i));
          data::write_png(out + name, images[static_cast<size_t>(i)]);
        }
        done += k;
        progress.update(done);
      }
      progress.finish();
      std::printf("wrote %lld images to %s/images/\n", static_cast<long long>(n), out.c_str());
    }
    return 0;
  });
}
