#!/usr/bin/env python3
"""odegan's generators as PyTorch modules, and the loader for odegan_export's files.

    import odegan_torch                                  # this file (scripts/)
    G = odegan_torch.load_generator("G.safetensors")     # an nn.Module in eval mode
    images = G(torch.randn(16, G.latent))                # (16, C, H, W) in [-1, 1]
    # class-conditional ImageNet generators take labels: G(z, labels)

The modules below are written down to have exactly our tensor names and shapes (DCGAN:
nn.Sequential indices as layers/models/dcgan.cpp builds them; ResNets: fc, block<i>.{bn1,
conv1, bn2, conv2, shortcut}, bn, out as layers/models/resnet.cpp and layers/blocks.cpp).
Channel counts come from the file's tensor shapes; the rest from its "odegan_generator"
metadata. Loading is strict: every tensor must be used and every module tensor found,
except batch norm's num_batches_tracked, which odegan does not keep.

Command line (needs torch and safetensors; never needed by the build or the tests):
    python3 scripts/odegan_torch.py check G.safetensors [--png side_by_side.png]
        loads G, draws from the latents of G.safetensors.check.safetensors (odegan_export
        --check N) and compares with the images our generator drew: prints max |diff|,
        exits 1 above --tol (default 1e-4); --png writes ours (top) and PyTorch's (bottom).
    python3 scripts/odegan_torch.py describe dcgan --latent 128 --image-size 32 --channels 3 --width 0.125
        prints "name shape" for every tensor of the PyTorch module (the fixtures in
        tests/fixtures/pytorch/ are made this way; tests/apps/export_test.cpp checks that
        odegan_export writes exactly these names and shapes).
"""
import argparse
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled(channels, width):
    """layers/models/dcgan.cpp's scaled(): max(1, round(channels * width))."""
    return max(1, int(channels * width + 0.5))  # std::lround (positive values)


class Reshape(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


def dcgan_generator(latent, image_size, channels, c0, c1, c2, c3, eps):
    """layers/models/dcgan.cpp: Linear, Reshape, 3 x (ConvTranspose 4x4/2, BN, ReLU), ConvTranspose 3x3, Tanh."""
    base = image_size // 8
    layers = [nn.Linear(latent, base * base * c0), Reshape(c0, base, base)]
    cin = c0
    for cout in (c1, c2, c3):
        layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout, eps=eps), nn.ReLU()]
        cin = cout
    layers += [nn.ConvTranspose2d(cin, channels, 3, 1, 1), nn.Tanh()]
    return nn.Sequential(*layers)


class ConditionalBatchNorm2d(nn.Module):
    """layers/layers.cpp: batch norm without affine, then per-class scale and shift rows."""

    def __init__(self, c, num_classes, eps):
        super().__init__()
        self.norm = nn.BatchNorm2d(c, eps=eps, affine=False)
        self.weight = nn.Parameter(torch.ones(num_classes, c))
        self.bias = nn.Parameter(torch.zeros(num_classes, c))

    def forward(self, x, y):
        return self.norm(x) * self.weight[y][:, :, None, None] + self.bias[y][:, :, None, None]


class GBlock(nn.Module):
    """layers/blocks.cpp: BN, ReLU, up 2x (nearest), conv 3x3, BN, ReLU, conv 3x3; shortcut: up, conv 1x1."""

    def __init__(self, cin, cout, num_classes, eps):
        super().__init__()
        bn = (lambda c: ConditionalBatchNorm2d(c, num_classes, eps)) if num_classes else (lambda c: nn.BatchNorm2d(c, eps=eps))
        self.conditional = num_classes > 0
        self.bn1 = bn(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.bn2 = bn(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1, 1, 0)

    def norm(self, bn, x, y):
        return bn(x, y) if self.conditional else bn(x)

    def forward(self, x, y=None):
        h = F.relu(self.norm(self.bn1, x, y))
        h = self.conv1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.conv2(F.relu(self.norm(self.bn2, h, y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGenerator(nn.Module):
    """layers/models/resnet.cpp: fc to (c0, 4, 4), up-blocks, BN, ReLU, conv 3x3, tanh."""

    def __init__(self, latent, channels, ch, num_classes, eps):
        super().__init__()
        self.c0 = ch[0]
        self.fc = nn.Linear(latent, 16 * ch[0])
        for i in range(1, len(ch)):
            self.add_module(f"block{i}", GBlock(ch[i - 1], ch[i], num_classes, eps))
        self.blocks = len(ch) - 1
        self.bn = nn.BatchNorm2d(ch[-1], eps=eps)
        self.out = nn.Conv2d(ch[-1], channels, 3, 1, 1)

    def forward(self, z, y=None):
        h = self.fc(z).reshape(z.shape[0], self.c0, 4, 4)
        for i in range(1, self.blocks + 1):
            h = getattr(self, f"block{i}")(h, y)
        return torch.tanh(self.out(F.relu(self.bn(h))))


def imagenet_channels(ch, image_size):
    n, r = 0, 4
    while r < image_size:
        r, n = r * 2, n + 1
    mult = [16, 16, 8, 4, 2, 1]
    return [mult[i] * ch for i in range(5 - n, 6)]


def build(meta, shapes=None):
    """The PyTorch generator for odegan_export's metadata; channel counts from `shapes`
    (name -> shape of the file's tensors) when given, else from meta's width / ch."""
    arch, latent, size, channels = meta["arch"], meta["latent"], meta["image_size"], meta["channels"]
    eps, classes = meta.get("bn_eps", 1e-5), meta.get("num_classes", 0)
    if arch == "dcgan":
        if shapes:
            c = [shapes["2.weight"][0], shapes["2.weight"][1], shapes["5.weight"][1], shapes["8.weight"][1]]
        else:
            c = [scaled(n, meta["width"]) for n in (512, 256, 128, 64)]
        g = dcgan_generator(latent, size, channels, *c, eps)
    elif arch in ("resnet", "imagenet_resnet"):
        if shapes:
            blocks = sorted({int(k.split(".")[0][5:]) for k in shapes if k.startswith("block")})
            ch = [shapes["block1.conv1.weight"][1]] + [shapes[f"block{i}.conv1.weight"][0] for i in blocks]
        elif arch == "resnet":
            ch = [scaled(256, meta["width"])] * 4
        else:
            ch = imagenet_channels(meta["ch"], size)
        g = ResNetGenerator(latent, channels, ch, classes, eps)
    else:
        raise ValueError(f"unknown arch {arch!r}")
    g.latent = latent
    g.num_classes = classes
    return g


def load_generator(path, device="cpu"):
    """An odegan_export file -> the PyTorch generator with its weights, in eval mode."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = json.loads(f.metadata()["odegan_generator"])
        state = {k: f.get_tensor(k) for k in f.keys()}
    g = build(meta, {k: tuple(v.shape) for k, v in state.items()})
    missing, unexpected = g.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path}: does not match the {meta['arch']} generator: missing {missing}, unexpected {unexpected}")
    return g.to(device).eval()


def _grid(images, rows):
    """(N, C, H, W) in [-1, 1] -> HxWxC uint8 grid with `rows` rows."""
    n, c, h, w = images.shape
    cols = (n + rows - 1) // rows
    out = torch.zeros(c, rows * h, cols * w)
    for i in range(n):
        out[:, (i // cols) * h : (i // cols + 1) * h, (i % cols) * w : (i % cols + 1) * w] = images[i]
    out = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0)
    return out.squeeze(2) if c == 1 else out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("file")
    c.add_argument("--png")
    c.add_argument("--tol", type=float, default=1e-4)
    d = sub.add_parser("describe")
    d.add_argument("arch", choices=["dcgan", "resnet", "imagenet_resnet"])
    d.add_argument("--latent", type=int, default=128)
    d.add_argument("--image-size", type=int, default=32)
    d.add_argument("--channels", type=int, default=3)
    d.add_argument("--width", type=float, default=1.0)
    d.add_argument("--ch", type=int, default=64)
    d.add_argument("--num-classes", type=int, default=0)
    a = ap.parse_args()
    if a.cmd == "describe":
        meta = dict(arch=a.arch, latent=a.latent, image_size=a.image_size, channels=a.channels, width=a.width,
                    ch=a.ch, num_classes=a.num_classes)
        for k, v in build(meta).state_dict().items():
            if not k.endswith("num_batches_tracked"):
                print(k, " ".join(str(s) for s in v.shape) or "scalar")
        return 0
    from safetensors.torch import load_file

    g = load_generator(a.file).double()
    ref = load_file(a.file + ".check.safetensors")
    with torch.no_grad():
        z = ref["z"].double()
        x = g(z, ref["labels"].long()) if "labels" in ref else g(z)
    ours = ref["images"].double()
    diff = (x - ours).abs().max().item()
    print(f"{a.file}: {z.shape[0]} images, max |PyTorch - odegan| = {diff:.3g} (tolerance {a.tol:g})")
    if a.png:
        from PIL import Image

        Image.fromarray(_grid(torch.cat([ours, x]).float(), 2).numpy()).save(a.png)
        print(f"wrote {a.png}: odegan (top row), PyTorch (bottom row)")
    return 0 if diff <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
