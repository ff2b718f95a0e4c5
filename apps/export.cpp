// odegan_export: a trained generator as a plain safetensors file that loads into the
// equivalent PyTorch module (scripts/odegan_torch.py, docs/reproducing.md "Using a trained
// generator in PyTorch").
//   odegan_export --run runs/cifar --out G.safetensors [--steps N | --checkpoint F] [--check 16]
// Tensor names are the generator's state_dict names, which are PyTorch's (batch norm:
// weight, bias, running_mean, running_var; num_batches_tracked is not written: it only
// matters with momentum=None). The metadata "odegan_generator" holds what builds the module
// (architecture, latent size, image shape, classes, batch norm's eps) and the run's config.
// --check N also writes <out>.check.safetensors: N latents (and labels), and the images our
// generator draws from them in eval mode, for comparing pixels in PyTorch.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "apps/common/flags.h"
#include "apps/common/run_generator.h"
#include "core/safetensors.h"
#include "layers/layers.h"

using namespace odegan;

namespace {

// eps of the first batch norm in the tree (every one of a generator has the same), or 0.
double batch_norm_eps(nn::Module& m) {
  if (auto* bn = dynamic_cast<nn::BatchNorm*>(&m)) return bn->eps;
  for (auto& [name, child] : m.named_children())
    if (double eps = batch_norm_eps(*child); eps > 0) return eps;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return app::run_main("odegan_export", [&] {
    std::string run, out, checkpoint, dtype = "float32";
    int64_t steps = -1, check = 0;
    uint64_t seed = 0;
    CLI::App cli{"Writes a trained generator as a plain safetensors file for PyTorch (scripts/odegan_torch.py)"};
    cli.option_defaults()->always_capture_default();
    cli.add_option("--run", run, "run directory of odegan_cifar10 / odegan_imagenet")->required();
    cli.add_option("--out", out, "output file (.safetensors)")->required();
    namespace flags = app::flags;
    cli.add_option("--steps", steps, "use the checkpoint of this step (default: the latest)")
        ->check(flags::integer(0, flags::kMaxSteps));
    cli.add_option("--checkpoint", checkpoint, "an explicit checkpoint file");
    cli.add_option("--dtype", dtype, "float32 or float64")->check(CLI::IsMember({"float32", "float64"}));
    cli.add_option("--check", check, "also write N latents and our images from them to <out>.check.safetensors")
        ->check(flags::integer(0, 4096));
    cli.add_option("--seed", seed, "noise seed of --check")->check(flags::integer(0, INT64_MAX));
    try {
      cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli.exit(e);
    }
    const app::RunGenerator g = app::load_run_generator(run, "cpu", steps, checkpoint);
    const app::ImageGanConfig& c = g.config;
    const DType dt = dtype == "float64" ? DType::f64 : DType::f32;
    TensorMap tensors;
    for (auto& [name, t] : g.players.generator->state_dict()) tensors[name] = t.to(dt);
    nlohmann::json meta = {{"arch", c.arch},
                           {"latent", c.latent},
                           {"image_size", c.image_size},
                           {"channels", c.channels},
                           {"num_classes", c.arch == "imagenet_resnet" && c.conditional ? c.num_classes : 0},
                           {"bn_eps", batch_norm_eps(*g.players.generator)},
                           {"checkpoint", g.checkpoint}};
    save_safetensors(out, tensors, {{"format", "pt"}, {"odegan_generator", meta.dump()}, {"odegan_config", c.to_json().dump()}});
    std::printf("wrote %s: %s generator, %zu tensors, %lld parameters, from %s\n", out.c_str(), c.arch.c_str(),
                tensors.size(), static_cast<long long>(g.players.generator->num_parameters()), g.checkpoint.c_str());
    if (check > 0) {
      Generator noise(seed);
      Tensor z = Tensor::empty({check, c.latent}, g.dtype, g.device);
      fill_normal(z, noise);
      TensorMap ref = {{"z", z.to(dt)}};
      Tensor labels;
      if (meta["num_classes"].get<int64_t>() > 0) {
        std::vector<int32_t> y(static_cast<size_t>(check));
        for (int64_t i = 0; i < check; ++i) y[static_cast<size_t>(i)] = static_cast<int32_t>(i % c.num_classes);
        labels = Tensor::from_vector(y, {check});
        ref["labels"] = labels;
      }
      {
        ad::NoGradGuard no_grad;
        ref["images"] = g.players.generate(ad::Var(z), labels).data().to(dt);
      }
      const std::string path = out + ".check.safetensors";
      save_safetensors(path, ref, {{"format", "pt"}});
      std::printf("wrote %s: %lld latents and the images our generator draws from them\n", path.c_str(),
                  static_cast<long long>(check));
    }
    return 0;
  });
}
