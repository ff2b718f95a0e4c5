#!/usr/bin/env python3
"""A PyTorch peer of odegan_cifar10's default recipe, to compare sample quality.

  python3 scripts/peer_pytorch_gan.py --data /usr/share/datasets/fashion-mnist --out /tmp/peer0 \
      --seed 0 --steps 2000 [--width-mult 0.125] [--method rk4] [--samples 5000] [--sample-every 500]

The same algorithm as `odegan_cifar10 --format idx` (apps/common/image_gan.cpp,
solvers/gan_game.cpp), written independently in eager PyTorch, float32:
- networks (layers/models/dcgan.cpp): the SN-GAN "DCGAN" pair with every channel count
  multiplied by --width-mult and rounded to nearest (at least 1); G: linear -> 4x4 ->
  3 x [deconv 4x4 s2 p1 -> BN(eps 1e-3, momentum 0.001) -> ReLU] -> deconv 3x3 s1 p1 -> tanh;
  D: 7 convs with LeakyReLU(0.1) -> linear to 1 logit;
- init "reference" (layers/init.cpp): weights N(0, 1/fan_in) truncated at 2 std, biases 0,
  fan_in = in_channels * k * k for convolutions AND transposed convolutions (the adjoint
  convolution's fan), in_features for linear layers; BN gain 1, bias 0;
- non-saturating loss; velocity v = -[dl_D/dtheta, dl_G/dphi]; one step = regulariser
  g_theta = grad_theta ||dl_G/dphi||^2 and the first stage's velocity from the same forward
  pass on the step's first batch, the explicit RK stages with a fresh real batch and fresh
  noise for every later stage (joint integration: both players move to each stage point),
  y = y0 + h sum b_i k_i, then theta -= h * lambda * g_theta;
- BN in train mode for every forward pass of the step (batch statistics; one running-stat
  update per generator forward, so RK4 updates them 4 times per step), eval mode (running
  statistics) for samples;
- step size h/4 for the first 500 steps, then h (the reference schedule);
- data: IDX train split, bytes / 127.5 - 1, 28x28 centred on a 32x32 background of -1,
  reshuffled every epoch, the last partial batch dropped.
Data order and random numbers are torch's own, so runs agree with ours in distribution,
not bit for bit. Samples of the generator (eval mode) for a fixed noise are written as
safetensors files holding `images` (N, 1, 32, 32) float32 in [-1, 1] -- what
`odegan_fid --samples FILE` scores.
"""
import argparse
import gzip
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TABLEAUS = {  # (a rows, b): explicit methods as solvers/butcher.cpp
    "euler": ([], [1.0]),
    "rk2": ([[1.0]], [0.5, 0.5]),  # Heun
    "rk4": ([[0.5], [0.0, 0.5], [0.0, 0.0, 1.0]], [1 / 6, 1 / 3, 1 / 3, 1 / 6]),
}


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fmnist(directory, split="train"):
    stem = "train" if split == "train" else "t10k"
    for name in (f"{stem}-images-idx3-ubyte.gz", f"{stem}-images-idx3-ubyte"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            imgs = read_idx(path).astype(np.float32) / 127.5 - 1.0
            out = np.full((imgs.shape[0], 1, 32, 32), -1.0, dtype=np.float32)
            out[:, 0, 2:30, 2:30] = imgs
            return torch.from_numpy(out)
    raise SystemExit(f"no {stem}-images-idx3-ubyte[.gz] in {directory}")


def scaled(c, width):
    return max(1, int(math.floor(c * width + 0.5)))


def build(width, latent=128, channels=1, size=32):
    c0, c1, c2, c3 = (scaled(c, width) for c in (512, 256, 128, 64))
    base = size // 8
    g = nn.Sequential(nn.Linear(latent, base * base * c0), nn.Unflatten(1, (c0, base, base)),
                      nn.ConvTranspose2d(c0, c1, 4, 2, 1), nn.BatchNorm2d(c1, 1e-3, 0.001), nn.ReLU(),
                      nn.ConvTranspose2d(c1, c2, 4, 2, 1), nn.BatchNorm2d(c2, 1e-3, 0.001), nn.ReLU(),
                      nn.ConvTranspose2d(c2, c3, 4, 2, 1), nn.BatchNorm2d(c3, 1e-3, 0.001), nn.ReLU(),
                      nn.ConvTranspose2d(c3, channels, 3, 1, 1), nn.Tanh())
    layers, c = [], channels
    for out, k, s in ((64, 3, 1), (64, 4, 2), (128, 3, 1), (128, 4, 2), (256, 3, 1), (256, 4, 2), (512, 3, 1)):
        out = scaled(out, width)
        layers += [nn.Conv2d(c, out, k, s, 1), nn.LeakyReLU(0.1)]
        c = out
    d = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * base * base, 1))
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            if isinstance(m, nn.Linear):
                fan_in = m.in_features
            elif isinstance(m, nn.ConvTranspose2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]  # weight (in, out, k, k)
            else:
                fan_in = m.weight.shape[1] * m.kernel_size[0] * m.kernel_size[1]
            std = 1.0 / math.sqrt(fan_in)
            with torch.no_grad():
                nn.init.trunc_normal_(m.weight, 0.0, std, -2 * std, 2 * std)
                m.bias.zero_()
    return g, d


class Batches:
    """Shuffled minibatches of the training images, reshuffled every epoch; last partial batch dropped."""

    def __init__(self, images, batch, seed):
        self.images, self.batch = images, batch
        self.gen = torch.Generator().manual_seed(seed)
        self.per_epoch = images.shape[0] // batch
        self.i, self.perm = self.per_epoch, None

    def next(self):
        if self.i == self.per_epoch:
            self.perm, self.i = torch.randperm(self.images.shape[0], generator=self.gen), 0
        idx = self.perm[self.i * self.batch:(self.i + 1) * self.batch]
        self.i += 1
        return self.images[idx]


def write_safetensors(path, tensors):
    """Minimal safetensors writer (8-byte little-endian header size, JSON header, raw data).
    float64 tensors stay F64, everything else is written as F32."""
    header, blobs, at = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().cpu().numpy()
        a = np.ascontiguousarray(a if a.dtype == np.float64 else a.astype(np.float32))
        kind = "F64" if a.dtype == np.float64 else "F32"
        header[name] = {"dtype": kind, "shape": list(a.shape), "data_offsets": [at, at + a.nbytes]}
        blobs.append(a.tobytes())
        at += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


class Game:
    def __init__(self, g, d, batches, latent, lam):
        self.g, self.d, self.batches, self.latent, self.lam = g, d, batches, latent, lam
        self.theta, self.phi = list(d.parameters()), list(g.parameters())
        self.params = self.theta + self.phi

    def draw(self):
        real = self.batches.next()
        return real, torch.randn(real.shape[0], self.latent)

    def losses(self, real, z):
        fake = self.g(z)
        dr, df = self.d(real), self.d(fake)
        return F.softplus(-dr).mean() + F.softplus(df).mean(), F.softplus(-df).mean()

    def velocity(self, real, z):
        ld, lg = self.losses(real, z)
        gt = torch.autograd.grad(ld, self.theta, retain_graph=True)
        gp = torch.autograd.grad(lg, self.phi)
        return [-x for x in gt + gp], ld.item(), lg.item()

    def first_stage(self, real, z):
        """Velocity at the start point and g_theta = grad_theta ||dl_G/dphi||^2 from one forward pass."""
        ld, lg = self.losses(real, z)
        gp = torch.autograd.grad(lg, self.phi, create_graph=True)
        gt = torch.autograd.grad(ld, self.theta, retain_graph=True)
        reg = sum((x * x).sum() for x in gp)
        g_reg = torch.autograd.grad(reg, self.theta) if self.lam > 0 else None
        return [-x.detach() for x in gt + gp], g_reg, ld.item(), lg.item()

    def step(self, method, h):
        a, b = TABLEAUS[method]
        k1, g_reg, ld, lg = self.first_stage(*self.draw())
        ks = [k1]
        with torch.no_grad():
            y0 = [p.detach().clone() for p in self.params]
            for row in a:
                for i, p in enumerate(self.params):
                    p.copy_(y0[i])
                    for aij, k in zip(row, ks):
                        if aij != 0:
                            p.add_(k[i], alpha=h * aij)
                with torch.enable_grad():
                    k, _, _ = self.velocity(*self.draw())
                ks.append(k)
            for i, p in enumerate(self.params):
                p.copy_(y0[i])
                for bi, k in zip(b, ks):
                    p.add_(k[i], alpha=h * bi)
            if g_reg is not None:
                for p, gr in zip(self.theta, g_reg):
                    p.sub_(gr, alpha=h * self.lam)
        finite = math.isfinite(ld) and math.isfinite(lg) and all(bool(torch.isfinite(p).all()) for p in self.params)
        return ld, lg, finite


class FixedBatches:
    """Replays stored (real, z) pairs in order (the parity fixture)."""

    def __init__(self, pairs):
        self.pairs, self.i = pairs, 0

    def draw(self):
        self.i += 1
        return self.pairs[self.i - 1]


def make_fixture(path, method="rk4", h=0.1, lam=0.5, width=1 / 32, latent=8, size=8, batch=4, seed=0):
    """One training step of a tiny DCGAN pair in float64 from a stored start, on stored batches:
    the expected result for tests/solvers/peer_step_test.cpp (our GanGame must reproduce it).
    The start point and batches are rounded to float32 (stored so) before use, so both sides
    start from exactly the same numbers."""
    torch.manual_seed(seed)
    g, d = build(width, latent, 1, size)
    g, d = g.double(), d.double()
    stages = len(TABLEAUS[method][1])
    pairs = [((torch.rand(batch, 1, size, size) * 2 - 1).float().double(), torch.randn(batch, latent).float().double())
             for _ in range(stages)]
    params = list(d.parameters()) + list(g.parameters())
    with torch.no_grad():
        for p in params:
            p.copy_(p.float().double())
    state0 = torch.cat([p.detach().reshape(-1) for p in params])
    game = Game(g, d, None, latent, lam)
    game.draw = FixedBatches(pairs).draw
    ld, lg, _ = game.step(method, h)  # losses at the start point (an extra forward would move BN statistics)
    state1 = torch.cat([p.detach().reshape(-1) for p in params])
    bns = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    z_eval = torch.randn(3, latent).float().double()
    out = {"state0": state0.float(), "delta": (state1 - state0).float(),
           "bn_mean": torch.cat([m.running_mean for m in bns]), "bn_var": torch.cat([m.running_var for m in bns]),
           "z_eval": z_eval.float(), "samples_eval": samples(g, z_eval),
           "loss_d0": torch.tensor([ld], dtype=torch.float64), "loss_g0": torch.tensor([lg], dtype=torch.float64),
           "h": torch.tensor([h], dtype=torch.float64), "lambda": torch.tensor([lam], dtype=torch.float64)}
    for i, (real, z) in enumerate(pairs):
        out[f"real{i}"], out[f"z{i}"] = real.float(), z.float()
    write_safetensors(path, out)
    print(f"wrote {path}: {method} step, h {h}, lambda {lam}, {state0.numel()} parameters "
          f"({sum(p.numel() for p in d.parameters())} in D)")


def samples(g, z, chunk=500):
    g.eval()
    with torch.no_grad():
        x = torch.cat([g(z[i:i + chunk]) for i in range(0, z.shape[0], chunk)])
    g.train()
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="directory with train-images-idx3-ubyte[.gz] (required to train)")
    ap.add_argument("--out", help="output directory (required to train)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--method", default="rk4", choices=sorted(TABLEAUS))
    ap.add_argument("--h", type=float, default=0.04)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.02)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--latent", type=int, default=128)
    ap.add_argument("--width-mult", type=float, default=0.125)
    ap.add_argument("--samples", type=int, default=5000, help="samples written at the end (and every --sample-every)")
    ap.add_argument("--sample-every", type=int, default=0, help="also write samples every N steps (0: only at the end)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--make-fixture", metavar="FILE", help="write the one-step parity fixture (float64) and exit")
    args = ap.parse_args()
    if args.make_fixture:
        make_fixture(args.make_fixture)
        return
    if not args.data or not args.out:
        raise SystemExit("--data and --out are required (or --make-fixture FILE)")
    if args.steps < 0 or args.batch <= 0 or args.h <= 0 or args.lam < 0 or args.samples <= 0 or args.width_mult <= 0:
        raise SystemExit("need --steps >= 0, --batch > 0, --h > 0, --lambda >= 0, --samples > 0, --width-mult > 0")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    images = load_fmnist(args.data)
    g, d = build(args.width_mult, args.latent)
    game = Game(g, d, Batches(images, args.batch, args.seed + 2), args.latent, args.lam)
    z_fixed = torch.randn(args.samples, args.latent, generator=torch.Generator().manual_seed(args.seed + 3))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(vars(args) | {"torch": torch.__version__}, f, indent=1)
    log = open(os.path.join(args.out, "metrics.jsonl"), "w")
    t0 = time.time()
    for step in range(args.steps):
        h = args.h / 4 if step < 500 else args.h
        ld, lg, finite = game.step(args.method, h)
        done = step + 1
        if not finite:
            raise SystemExit(f"diverged at step {done} (loss_d {ld}, loss_g {lg})")
        if done % args.log_every == 0 or done == args.steps:
            log.write(json.dumps({"step": done, "loss_d": ld, "loss_g": lg, "h": h}) + "\n")
            log.flush()
            rate = done / (time.time() - t0)
            print(f"step {done}/{args.steps}  l_D {ld:.4f}  l_G {lg:.4f}  {rate:.2f} steps/s", flush=True)
        if (args.sample_every > 0 and done % args.sample_every == 0) or done == args.steps:
            write_safetensors(os.path.join(args.out, f"samples-{done:06d}.safetensors"), {"images": samples(g, z_fixed)})
    torch.save({"generator": g.state_dict(), "discriminator": d.state_dict()}, os.path.join(args.out, "model.pt"))
    print(f"wrote {args.out}/samples-*.safetensors, model.pt, metrics.jsonl ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
