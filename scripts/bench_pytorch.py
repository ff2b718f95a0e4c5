#!/usr/bin/env python3
"""The same ODE-GAN steps in PyTorch (eager), as a speed reference for our benchmarks.

  python3 scripts/bench_pytorch.py [--device cpu|cuda] [--only mog|models|inception] [--threads N]
      [--arch dcgan|resnet] [--width 1] [--model-batch 64] [--iters N] [--step-only] [--batch 50]

MoG: the paper's MLPs (G 32-25-25-2, D 2-25-25-1), batch 512, one RK4 step with the
regulariser grad_theta ||d l_G / d phi||^2 computed from the first stage's forward pass,
joint integration, one batch shared by the stages -- exactly what odegan_bench_mog times.
Models (--only models; `dcgan` is kept as an alias): for the --arch pair (dcgan: the SN-GAN
"DCGAN" of layers/models/dcgan.cpp; resnet: the CIFAR ResNet pair of layers/models/resnet.cpp,
unconditional, no spectral norm) with every channel count multiplied by --width (rounded to
nearest, at least 1, as our scaled()), at --model-batch (64) of 3x32x32 images: the forward
G + D, the backward d l_G / d phi, the same backward recording its graph (create_graph), the
regulariser's double backward grad_theta ||d l_G / d phi||^2, and one RK4 + regulariser step
with fresh batches per stage -- as `odegan_bench_models --arch A --width W --batch B` times;
the parameter counts of G and D are printed to check against its first line.
Inception: pytorch-fid's InceptionV3 forward (resize of 32x32 inputs to 299x299 included,
pool3 out) at --batch (50), random weights, as odegan_bench_inception times (needs
pytorch-fid). float32 throughout, TF32 off.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odegan_torch  # noqa: E402  (scripts/: our ResNet generator, faithfully ported, and scaled())

scaled = odegan_torch.scaled  # layers/models/dcgan.cpp: max(1, lround(channels * width))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timeit(fn, device, iters, warmup=3):
    for _ in range(warmup):
        fn()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / iters * 1e3


class Game:
    """Flat views of the players' parameters, the velocity and Algorithm 1."""

    def __init__(self, g, d, batch_fn, lam, shared):
        self.g, self.d, self.batch_fn, self.lam, self.shared = g, d, batch_fn, lam, shared
        self.theta = list(d.parameters())
        self.phi = list(g.parameters())

    def losses(self, real, z):
        fake = self.g(z)
        dr, df = self.d(real), self.d(fake)
        ld = F.softplus(-dr).mean() + F.softplus(df).mean()
        lg = F.softplus(-df).mean()
        return ld, lg

    def velocity(self, real, z):
        ld, lg = self.losses(real, z)
        gt = torch.autograd.grad(ld, self.theta, retain_graph=True)
        gp = torch.autograd.grad(lg, self.phi)
        return [-x for x in gt], [-x for x in gp]

    def step(self, h):
        real, z = self.batch_fn()
        ld, lg = self.losses(real, z)
        gp = torch.autograd.grad(lg, self.phi, create_graph=True)
        gt = torch.autograd.grad(ld, self.theta, retain_graph=True)
        reg = sum((x * x).sum() for x in gp)
        g_reg = torch.autograd.grad(reg, self.theta)
        k = ([-x for x in gt], [-x.detach() for x in gp])
        params = self.theta + self.phi
        y0 = [p.detach().clone() for p in params]
        acc = [y + h / 6 * v for y, v in zip(y0, k[0] + k[1])]
        with torch.no_grad():
            for a, c in ((0.5, 1 / 3), (0.5, 1 / 3), (1.0, 1 / 6)):
                for p, y, v in zip(params, y0, k[0] + k[1]):
                    p.copy_(y + h * a * v)
                with torch.enable_grad():
                    b = (real, z) if self.shared else self.batch_fn()
                    kt, kp = self.velocity(*b)
                k = (kt, kp)
                for i, v in enumerate(kt + kp):
                    acc[i] = acc[i] + h * c * v
            for p, a in zip(params, acc):
                p.copy_(a)
            for p, g in zip(self.theta, g_reg):
                p.sub_(h * self.lam * g)


def mlp(i, hidden, o):
    return nn.Sequential(nn.Linear(i, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, o))


def bench_mog(device, iters):
    g, d = mlp(32, 25, 2).to(device), mlp(2, 25, 1).to(device)
    means = torch.tensor([[x, y] for x in (1.5, 0.5, -1.5, -0.5) for y in (1.5, 0.5, -0.5, -1.5)], device=device)
    tiled = means.repeat(32, 1)

    def batch():
        return tiled + 0.02 * torch.randn(512, 2, device=device), torch.randn(512, 32, device=device)

    game = Game(g, d, batch, 0.07, shared=True)
    ms = timeit(lambda: game.step(0.1), device, iters)
    print(f"pytorch {torch.__version__} {device.type}: MoG RK4 + regulariser step {ms:.3f} ms "
          f"({torch.get_num_threads()} threads)")


def dcgan(channels=3, width=1.0):
    """layers/models/dcgan.cpp at 32x32 (as scripts/peer_pytorch_gan.py's build(), PyTorch's default init)."""
    c0, c1, c2, c3 = (scaled(c, width) for c in (512, 256, 128, 64))
    g = nn.Sequential(nn.Linear(128, 4 * 4 * c0), nn.Unflatten(1, (c0, 4, 4)),
                      nn.ConvTranspose2d(c0, c1, 4, 2, 1), nn.BatchNorm2d(c1, 1e-3, 0.001), nn.ReLU(),
                      nn.ConvTranspose2d(c1, c2, 4, 2, 1), nn.BatchNorm2d(c2, 1e-3, 0.001), nn.ReLU(),
                      nn.ConvTranspose2d(c2, c3, 4, 2, 1), nn.BatchNorm2d(c3, 1e-3, 0.001), nn.ReLU(),
                      nn.ConvTranspose2d(c3, channels, 3, 1, 1), nn.Tanh())
    layers, c = [], channels
    for out, k, s in ((64, 3, 1), (64, 4, 2), (128, 3, 1), (128, 4, 2), (256, 3, 1), (256, 4, 2), (512, 3, 1)):
        out = scaled(out, width)
        layers += [nn.Conv2d(c, out, k, s, 1), nn.LeakyReLU(0.1)]
        c = out
    d = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * 16, 1))
    return g, d


class DBlock(nn.Module):
    """layers/blocks.cpp's DBlock (no spectral norm). Residual: [relu] conv 3x3, relu, conv 3x3,
    [avg-pool 2x2]; the optimised (first) block has no leading relu and its shortcut is avg-pool
    then conv 1x1; otherwise the shortcut (when in != out or downsampling) is conv 1x1 then
    [avg-pool], else the identity."""

    def __init__(self, cin, cout, downsample, optimized):
        super().__init__()
        self.downsample, self.optimized = downsample or optimized, optimized
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1, 1, 0) if cin != cout or self.downsample else None

    def forward(self, x):
        h = self.conv1(x) if self.optimized else self.conv1(F.relu(x))
        h = self.conv2(F.relu(h))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.optimized:
            s = self.shortcut(F.avg_pool2d(x, 2))
        elif self.shortcut is not None:
            s = self.shortcut(x)
            if self.downsample:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetDiscriminator(nn.Module):
    """layers/models/resnet.cpp, unconditional: blocks (the first optimised), relu, global sum pool, linear to 1."""

    def __init__(self, channels, ch, down):
        super().__init__()
        cin = channels
        for i, (c, dn) in enumerate(zip(ch, down)):
            self.add_module(f"block{i + 1}", DBlock(cin, c, dn, i == 0))
            cin = c
        self.blocks = len(ch)
        self.fc = nn.Linear(cin, 1)

    def forward(self, x):
        h = x
        for i in range(1, self.blocks + 1):
            h = getattr(self, f"block{i}")(h)
        return self.fc(F.relu(h).sum(dim=(2, 3)))


def resnet(channels=3, width=1.0, latent=128):
    """cifar_resnet_generator / _discriminator (ResNetOptions defaults: BN eps 1e-5, momentum 0.1)."""
    cg, cd = scaled(256, width), scaled(128, width)
    g = odegan_torch.ResNetGenerator(latent, channels, [cg] * 4, 0, 1e-5)
    d = ResNetDiscriminator(channels, [cd] * 4, [True, True, False, False])
    return g, d


def bench_models(device, iters, arch="dcgan", width=1.0, batch=64, step_only=False):
    g, d = (m.to(device) for m in (dcgan if arch == "dcgan" else resnet)(width=width))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    name = f"pytorch {device.type} {arch} width {width:g} batch {batch}"
    print(f"{name}: G {count(g)} and D {count(d)} parameters")
    z = torch.randn(batch, 128, device=device)
    real = torch.rand(batch, 3, 32, 32, device=device) * 2 - 1
    phi, theta = list(g.parameters()), list(d.parameters())

    def loss_g():
        return F.softplus(-d(g(z))).mean()

    def fwd():
        with torch.no_grad():
            loss_g()

    def fwd_bwd():
        torch.autograd.grad(loss_g(), phi)

    def grad_norm_sq():
        gp = torch.autograd.grad(loss_g(), phi, create_graph=True)
        return sum((x * x).sum() for x in gp)

    def reg():
        torch.autograd.grad(grad_norm_sq(), theta)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if not step_only:
        f, fb = timeit(fwd, device, iters), timeit(fwd_bwd, device, iters)
        rec, r = timeit(grad_norm_sq, device, iters), timeit(reg, device, iters)
        b = fb - f
        print(f"{name}: forward {f:.2f} ms, backward {b:.2f} ms, "
              f"recorded backward {rec - f:.2f} ms ({(rec - f) / b:.2f} x), double backward {r - rec:.2f} ms "
              f"({(r - rec) / b:.2f} x), whole regulariser {r - f:.2f} ms ({(r - f) / b:.2f} x backward)")
    game = Game(g, d, lambda: (real, torch.randn(batch, 128, device=device)), 0.02, shared=False)
    ms = timeit(lambda: game.step(0.01), device, max(1, iters // 2), warmup=1)
    print(f"{name} RK4 step with regulariser: {ms:.2f} ms, {1000 * batch * 4 / ms:.0f} images/s")
    if device.type == "cuda":
        print(f"pytorch peak CUDA memory {torch.cuda.max_memory_allocated() / 1e6:.1f} MB")
    else:
        import resource
        print(f"pytorch peak resident memory of the process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")


def bench_inception(device, iters, batch):
    """pytorch-fid's own model; its weight download is replaced by random weights of the same names."""
    import pytorch_fid.inception as pfi

    import convert_inception as ci  # scripts/, on sys.path above

    state = {}
    for name, shape in ci.expected_tensors().items():
        if name.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            state[ci.to_torch(name)] = torch.randn(shape) * (2.0 / fan_in) ** 0.5
        elif name.endswith("running_var") or name.endswith("bn.weight"):
            state[ci.to_torch(name)] = torch.ones(shape)
        elif name == "fc.weight":
            state[name] = torch.randn(shape) / 2048**0.5
        else:
            state[ci.to_torch(name)] = torch.zeros(shape)
    pfi.load_state_dict_from_url = lambda *args, **kwargs: state
    model = pfi.InceptionV3([3]).to(device).eval()
    x = torch.rand(batch, 3, 32, 32, device=device)

    def fwd():
        with torch.no_grad():
            model(x)

    fwd()  # warm-up (cuDNN's algorithm search, allocator)
    c0 = time.process_time()
    ms = timeit(fwd, device, iters, warmup=0)
    cpu = (time.process_time() - c0) / (iters * batch)
    print(f"pytorch {torch.__version__} {device.type}: pytorch-fid InceptionV3 forward, batch {batch} of 32x32 -> "
          f"299x299: {ms:.1f} ms/batch, {1000 * batch / ms:.1f} images/s "
          f"(50 000 images: {50000 / (1000 * batch / ms) / 60:.1f} min), {cpu:.3f} CPU s/image "
          f"({torch.get_num_threads()} threads)")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--only", choices=["mog", "models", "dcgan", "inception"],
                    help="one benchmark (dcgan: an alias of models)")
    ap.add_argument("--arch", choices=["dcgan", "resnet"], default="dcgan", help="the models' pair")
    ap.add_argument("--width", type=float, default=1.0, help="the models' channel multiplier")
    ap.add_argument("--model-batch", type=int, default=64, help="the models' batch")
    ap.add_argument("--batch", type=int, default=50, help="Inception batch")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--iters", type=int, default=0)
    ap.add_argument("--step-only", action="store_true", help="models: time only the RK4 + regulariser step")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    device = torch.device(a.device)
    if a.only in (None, "mog"):
        bench_mog(device, a.iters or 200)
    if a.only in (None, "models", "dcgan"):
        bench_models(device, a.iters or (20 if device.type == "cuda" else 3), a.arch, a.width, a.model_batch,
                     a.step_only)
    if a.only == "inception":
        bench_inception(device, a.iters or (20 if device.type == "cuda" else 2), a.batch)


if __name__ == "__main__":
    main()
