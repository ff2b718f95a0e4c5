// odegan_imagenet: ODE-GAN training of the class-conditional SN-GAN ResNet (conditional
// batch norm in G, projection discriminator) on an ImageNet-layout image folder
// (root/<class>/*.JPEG), 128x128 by default. --image-size and --ch shrink it for small
// runs; --unconditional trains without labels (the setting of the authors' rebuttal:
// batch 64, h = 0.01, lambda = 0.001).
//   odegan_imagenet --data /data/imagenet/train --out runs/imagenet
//   odegan_imagenet --data DIR --image-size 32 --ch 8 --out runs/small --device cpu
#include "apps/common/image_gan.h"

using namespace odegan;

int main(int argc, char** argv) {
  return app::run_main("odegan_imagenet", [&] {
    app::ImageGanConfig c;
    c.arch = "imagenet_resnet";
    c.format = "folder";
    c.image_size = 128;
    c.conditional = true;
    c.threads = 8;
    bool unconditional = false;
    CLI::App cli{"ODE-GAN on ImageNet-layout folders: class-conditional ResNet (projection discriminator)"};
    cli.option_defaults()->always_capture_default();  // --help shows defaults
    app::add_image_gan_flags(cli, c);
    app::add_checked_option(cli, "--ch", c);
    cli.add_flag("--unconditional", unconditional, "ignore the labels");
    try {
      cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return cli.exit(e);
    }
    c.conditional = !unconditional;
    return app::train_image_gan(c, "odegan_imagenet");
  });
}
