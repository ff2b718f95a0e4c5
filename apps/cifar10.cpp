// odegan_cifar10: ODE-GAN training on CIFAR-10 (or an IDX dataset such as Fashion-MNIST)
// with the paper's DCGAN or the SN-GAN ResNet. Defaults follow the reference code: RK4,
// h = 0.04 with its schedule, lambda = 0.02, batch 64 per stage, latent 128, the
// non-saturating loss, fresh batches for every stage.
//   odegan_cifar10 --data ~/cifar-10-batches-bin --out runs/cifar
//   odegan_cifar10 --data /usr/share/datasets/fashion-mnist --format idx --width-mult 0.125 --out runs/fmnist
//   odegan_cifar10 --data DIR --arch resnet --method sngan --out runs/sngan     # the SN-GAN baseline
#include "apps/common/image_gan.h"

using namespace odegan;

int main(int argc, char** argv) {
  return app::run_main("odegan_cifar10", [&] {
    app::ImageGanConfig c;
    c.arch = "dcgan";
    CLI::App cli{"ODE-GAN on CIFAR-10 (or IDX datasets): DCGAN or ResNet, RK solvers + gradient regulariser"};
    cli.option_defaults()->always_capture_default();  // --help shows defaults
    app::add_image_gan_flags(cli, c);
    app::add_checked_option(cli, "--arch", c);
    app::add_checked_option(cli, "--logits", c);
    try {
      cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli.exit(e);
    }
    ODEGAN_CHECK(c.arch == "dcgan" || c.arch == "resnet", "--arch must be dcgan or resnet, got '", c.arch, "'");
    return app::train_image_gan(c, "odegan_cifar10");
  });
}
