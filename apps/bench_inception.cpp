// Benchmark of the FID network: Inception-v3 forward (resize to 299x299 included) in images/s,
// on the CPU and, when present, on the GPU; scripts/bench_pytorch.py --only inception times
// pytorch-fid's model at the same batch. Random weights unless --inception FILE is given.
//   odegan_bench_inception [--device all|cpu|cuda] [--batch 50] [--iters 2] [--size 32]
// --save-weights FILE writes the random weights of --seed and exits (for
// scripts/make_inception_fixture.py).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <vector>

#include "apps/common/run.h"
#include "core/rng.h"
#include "layers/models/inception.h"

using namespace odegan;
using nn::models::InceptionV3;

namespace {
void sync(Device dev) {
  if (dev.is_cuda()) Tensor::zeros({1}, DType::f32, dev).item();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Inception-v3 (pytorch-fid's FID network) forward throughput"};
  cli.option_defaults()->always_capture_default();
  std::string device = "all", weights, save;
  int64_t batch = 50, size = 32;
  int iters = 2;
  uint64_t seed = 2015;
  cli.add_option("--device", device, "all (the CPU, and CUDA when present), cpu or cuda");
  cli.add_option("--batch", batch, "images per forward (pytorch-fid's default is 50)")->check(CLI::PositiveNumber);
  cli.add_option("--iters", iters, "timed forwards per device, after one warm-up")->check(CLI::PositiveNumber);
  cli.add_option("--size", size, "input images are size x size (resized to 299 x 299)")->check(CLI::PositiveNumber);
  cli.add_option("--inception", weights, "weights from scripts/convert_inception.py (default: random)");
  cli.add_option("--seed", seed, "seed of the random weights");
  cli.add_option("--save-weights", save, "write the random weights of --seed to this safetensors file and exit");
  CLI11_PARSE(cli, argc, argv);
  return app::run_main("odegan_bench_inception", [&] {
    if (!save.empty()) {
      InceptionV3 net;
      nn::models::randomize_inception(net, seed);
      net.save(save);
      std::printf("wrote %s: Inception-v3 random weights, seed %llu, %lld parameters\n", save.c_str(),
                  (unsigned long long)seed, (long long)net.num_parameters());
      return 0;
    }
    std::vector<Device> devices;
    if (device == "all") {
      devices.push_back(Device::cpu());
      if (cuda_device_count() > 0) devices.push_back(Device::cuda());
    } else {
      devices.push_back(Device::parse(device));
    }
    std::shared_ptr<InceptionV3> net;
    if (!weights.empty()) {
      net = nn::models::load_inception(weights);
    } else {
      net = std::make_shared<InceptionV3>();
      nn::models::randomize_inception(*net, seed);
    }
    Generator gen(1);
    Tensor images = Tensor::empty({batch, 3, size, size});
    fill_uniform(images, gen, 0, 1);
    for (Device dev : devices) {
      net->to(dev);
      Tensor x = images.to(dev);
      net->run(x);  // warm-up: cuDNN algorithm search, allocator pool
      sync(dev);
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < iters; ++i) net->run(x);
      sync(dev);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
      const double rate = batch / s;
      std::printf("odegan %s: Inception-v3 forward, batch %lld of %lldx%lld -> 299x299: %.1f ms/batch, %.1f images/s"
                  " (50 000 images: %.1f min)\n",
                  dev.str().c_str(), (long long)batch, (long long)size, (long long)size, 1e3 * s, rate,
                  50000.0 / rate / 60.0);
    }
    return 0;
  });
}
