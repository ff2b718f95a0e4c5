// odegan_sample: loads a generator from a run directory's checkpoint and writes a PNG
// grid of samples and, optionally, N individual PNG images (for external FID/IS tools).
//   odegan_sample --run runs/cifar --out runs/cifar/eval --n 50000
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "apps/common/flags.h"
#include "apps/common/image_gan.h"
#include "apps/common/progress.h"
#include "autodiff/var.h"
#include "core/safetensors.h"
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
    namespace flags = app::flags;
    cli.add_option("--steps", steps, "use the checkpoint of this step (default: the latest)")
        ->check(flags::integer(0, flags::kMaxSteps));
    cli.add_option("--checkpoint", checkpoint, "an explicit checkpoint file");
    cli.add_option("--n", n, "also write N individual images to <out>/images/")->check(flags::integer(0, 100'000'000));
    cli.add_option("--seed", seed, "noise seed")->check(flags::integer(0, INT64_MAX));
    cli.add_option("--cols", cols, "grid columns (the grid shows cols x cols samples)")->check(flags::integer(1, 64));
    try {
      cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli.exit(e);
    }
    if (out.empty()) out = run + "/sampled";
    const std::string config_path = run + "/config.json";
    app::ImageGanConfig c = app::ImageGanConfig::from_json(app::read_json(config_path), config_path);
    c.device = device;
    const Device dev = Device::parse(device);
    const DType dtype = c.dtype == "float64" ? DType::f64 : DType::f32;
    solvers::Players p = app::build_players(c, dtype, dev);
    if (checkpoint.empty()) {
      if (steps >= 0) {
        char name[64];
        std::snprintf(name, sizeof name, "/checkpoints/ckpt-%09lld.safetensors", static_cast<long long>(steps));
        checkpoint = run + name;
      } else {
        checkpoint = app::latest_checkpoint_path(run + "/checkpoints");
        ODEGAN_CHECK(!checkpoint.empty(), "no checkpoints in ", run, "/checkpoints");
      }
    }
    const TensorMap t = app::read_checkpoint(checkpoint).tensors;
    std::map<std::string, Tensor> g_state;
    for (auto& [k, v] : t) {
      if (k.rfind("generator.", 0) == 0) g_state[k.substr(10)] = v;
      if (k.rfind("g.", 0) == 0) g_state[k.substr(2)] = v;
    }
    p.generator->load_state_dict(g_state);
    p.generator->eval();
    app::prepare_dir(out);  // only once the run has been read
    const bool conditional = c.arch == "imagenet_resnet" && c.conditional;
    Generator noise(seed);
    auto draw = [&](int64_t count, int64_t first_label) {
      Tensor z = Tensor::empty({count, c.latent}, dtype, dev);
      fill_normal(z, noise);
      Tensor y;
      if (conditional) {
        std::vector<int32_t> labels(static_cast<size_t>(count));
        for (int64_t i = 0; i < count; ++i) labels[static_cast<size_t>(i)] = static_cast<int32_t>((first_label + i) % c.num_classes);
        y = Tensor::from_vector(labels, {count}).to(dev);
      }
      ad::NoGradGuard no_grad;
      return p.generate(ad::Var(z), y).data();
    };
    data::write_image_grid(out + "/grid.png", draw(int64_t(cols) * cols, 0), cols);
    std::printf("wrote %s/grid.png from %s\n", out.c_str(), checkpoint.c_str());
    if (n > 0) {
      app::prepare_dir(out + "/images");
      app::Progress progress(n, "images");
      for (int64_t done = 0; done < n;) {
        const int64_t k = std::min(batch, n - done);
        Tensor x = draw(k, done).to(Device::cpu());
        for (int64_t i = 0; i < k; ++i) {
          char name[64];
          std::snprintf(name, sizeof name, "/images/%06lld.png", static_cast<long long>(done + i));
          Tensor one = x.slice(i, i + 1);
          data::write_image_grid(out + name, one, 1);
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
