#!/usr/bin/env python3
"""The MoG ODE-GAN training step in JAX (jit-compiled, XLA CPU), as a speed peer for
`odegan_bench_mog --steps 1000` (our C++ benchmark of the same step) and for
`scripts/bench_pytorch.py --only mog` (PyTorch eager).

  python3 scripts/bench_jax.py                 # time 1000 steps, XLA's default thread pool
  python3 scripts/bench_jax.py --threads 1     # one CPU thread
  python3 scripts/bench_jax.py --iters 200 --threads 2
  python3 scripts/bench_jax.py --check         # one float64 step against bench_pytorch.py's Game

What one step computes (exactly bench_pytorch.py's Game.step with bench_mog's settings):
G is the MLP 32-25-25-2, D the MLP 2-25-25-1 (ReLU, PyTorch's nn.Linear layout and default
init), batch 512: real = the 16 MoG means tiled 32 times + 0.02 N(0, 1), z ~ N(0, 1) of
shape (512, 32), one batch shared by all four stages. l_D = mean softplus(-D(real)) +
mean softplus(D(G(z))), l_G = mean softplus(-D(G(z))), velocity v = -(dl_D/dtheta,
dl_G/dphi). From the first forward pass: the regulariser g = grad_theta ||dl_G/dphi||^2
and the first stage's velocity k1; then classic RK4 with h = 0.1 (stages at y0 + h/2 k1,
y0 + h/2 k2, y0 + h k3; y = y0 + h/6 (k1 + 2 k2 + 2 k3 + k4)); then theta -= h lambda g
with lambda = 0.07. float32.

The batch is drawn INSIDE the jitted step with jax.random from a PRNG key carried in the
state, like the C++ benchmark draws one batch per step: the whole step is one
jax.jit-compiled function (params, key) -> (params, key) with both arguments donated.
Compilation and 5 warm-up steps are excluded; --iters steps are then dispatched back to
back and timed up to block_until_ready on the last result (so per-step Python dispatch
overhead is included, as it is in the PyTorch and C++ loops).

--threads N restricts the process's CPU affinity to N of its allowed CPUs before jax is
imported (XLA CPU sizes its intra-op Eigen thread pool from the schedulable CPUs), and for
N = 1 also sets XLA_FLAGS=--xla_cpu_multi_thread_eigen=false (single-threaded Eigen
matmuls/convolutions). The thread count printed is the number of XLA intra-op threads
("tf_XLAEigen") found in /proc/self/task after warm-up, or the affinity's size if those
cannot be counted.

--check enables x64, builds bench_pytorch.py's Game (torch is imported only then) in
float64 with the same initial parameters as the JAX step and the batch the jitted step
draws from its key, runs one step in both and prints the max abs difference of all
parameters after the step (expect ~1e-15..1e-12); exits 1 if it exceeds 1e-9.
"""
import argparse
import os
import sys
import time

H, LAM, BATCH, ZDIM = 0.1, 0.07, 512, 32
MEANS = [[x, y] for x in (1.5, 0.5, -1.5, -0.5) for y in (1.5, 0.5, -0.5, -1.5)]


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=1000, help="timed steps (default 1000)")
    ap.add_argument("--threads", type=int, default=0,
                    help="limit XLA CPU to N threads (CPU affinity; N=1 also --xla_cpu_multi_thread_eigen=false)")
    ap.add_argument("--check", action="store_true", help="compare one float64 step with bench_pytorch.py")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


def limit_threads(n):
    """Must run before jax is imported."""
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, cpus[:n])
    if n == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()


def init_mlp(rng, sizes, dtype):
    """nn.Linear's default init: W (out, in) and b ~ U(-1/sqrt(in), 1/sqrt(in))."""
    layers = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / i ** 0.5
        layers.append((rng.uniform(-bound, bound, (o, i)).astype(dtype), rng.uniform(-bound, bound, (o,)).astype(dtype)))
    return layers


def build(jax, jnp):
    def mlp(layers, x):
        for j, (w, b) in enumerate(layers):
            x = x @ w.T + b
            if j + 1 < len(layers):
                x = jax.nn.relu(x)
        return x

    def losses(theta, phi, real, z):
        fake = mlp(phi, z)
        dr, df = mlp(theta, real), mlp(theta, fake)
        ld = jnp.mean(jax.nn.softplus(-dr)) + jnp.mean(jax.nn.softplus(df))
        lg = jnp.mean(jax.nn.softplus(-df))
        return ld, lg

    def velocity(theta, phi, real, z):
        gt = jax.grad(lambda t: losses(t, phi, real, z)[0])(theta)
        gp = jax.grad(lambda p: losses(theta, p, real, z)[1])(phi)
        return jax.tree_util.tree_map(jnp.negative, (gt, gp))

    def draw(key, dtype):
        kr, kz = jax.random.split(key)
        real = jnp.tile(jnp.asarray(MEANS, dtype), (BATCH // len(MEANS), 1))
        real = real + 0.02 * jax.random.normal(kr, (BATCH, 2), dtype)
        return real, jax.random.normal(kz, (BATCH, ZDIM), dtype)

    def core(params, real, z):
        theta, phi = params

        def reg(t):  # ||dl_G/dphi||^2 as a function of theta, the velocity as aux
            gp = jax.grad(lambda p: losses(t, p, real, z)[1])(phi)
            gt = jax.grad(lambda tt: losses(tt, phi, real, z)[0])(t)
            return sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(gp)), (gt, gp)

        g_reg, (gt, gp) = jax.grad(reg, has_aux=True)(theta)
        k = jax.tree_util.tree_map(jnp.negative, (gt, gp))
        y0 = params
        acc = jax.tree_util.tree_map(lambda y, v: y + H / 6 * v, y0, k)
        for a, c in ((0.5, 1 / 3), (0.5, 1 / 3), (1.0, 1 / 6)):
            y = jax.tree_util.tree_map(lambda y, v: y + H * a * v, y0, k)
            k = velocity(*y, real, z)
            acc = jax.tree_util.tree_map(lambda s, v: s + H * c * v, acc, k)
        theta, phi = acc
        theta = jax.tree_util.tree_map(lambda p, g: p - H * LAM * g, theta, g_reg)
        return theta, phi

    def step(params, key):
        key, sub = jax.random.split(key)
        dtype = jax.tree_util.tree_leaves(params)[0].dtype
        real, z = draw(sub, dtype)
        return core(params, real, z), key

    return jax.jit(step, donate_argnums=(0, 1)), draw


def xla_threads():
    try:
        return sum(open(f"/proc/self/task/{t}/comm").read().strip().startswith("tf_XLAEigen")
                   for t in os.listdir("/proc/self/task"))
    except OSError:
        return 0


def bench(a):
    import warnings

    import jax
    import jax.numpy as jnp
    import numpy as np

    warnings.filterwarnings("ignore", message="Some donated buffers were not usable")
    step, _ = build(jax, jnp)
    rng = np.random.default_rng(a.seed)
    params = (init_mlp(rng, (2, 25, 25, 1), np.float32), init_mlp(rng, (ZDIM, 25, 25, 2), np.float32))
    params = jax.tree_util.tree_map(jnp.asarray, params)
    key = jax.random.PRNGKey(a.seed)
    for _ in range(5):  # the first call compiles
        params, key = step(params, key)
    jax.block_until_ready((params, key))
    t0 = time.perf_counter()
    for _ in range(a.iters):
        params, key = step(params, key)
    jax.block_until_ready((params, key))
    ms = (time.perf_counter() - t0) / a.iters * 1e3
    n = xla_threads()
    threads = f"{n} thread{'s' if n > 1 else ''}" if n else f"{len(os.sched_getaffinity(0))} schedulable CPUs, XLA thread count unknown"
    if a.threads == 1:
        threads += ", eigen single-threaded"
    print(f"jax {jax.__version__} cpu: MoG RK4 + regulariser step {ms:.3f} ms (jit, XLA CPU, {threads})")


def check(a):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch

    import bench_pytorch as bp

    torch.manual_seed(a.seed)
    g, d = bp.mlp(ZDIM, 25, 2).double(), bp.mlp(2, 25, 1).double()

    def layers(m):
        return [(l.weight.detach().numpy().copy(), l.bias.detach().numpy().copy())
                for l in m if isinstance(l, torch.nn.Linear)]

    params = (layers(d), layers(g))
    step, draw = build(jax, jnp)
    key = jax.random.PRNGKey(a.seed)
    _, sub = jax.random.split(key)  # the key the jitted step draws its batch with
    real, z = (torch.from_numpy(np.array(x)) for x in draw(sub, jnp.float64))
    game = bp.Game(g, d, lambda: (real, z), LAM, shared=True)
    game.step(H)
    (theta, phi), _ = step(jax.tree_util.tree_map(jnp.array, params), key)
    ours = [np.asarray(x) for x in jax.tree_util.tree_leaves((theta, phi))]
    theirs = [p.detach().numpy() for p in game.theta + game.phi]
    assert all(x.dtype == np.float64 and x.shape == y.shape for x, y in zip(ours, theirs))
    diff = max(float(np.max(np.abs(x - y))) for x, y in zip(ours, theirs))
    moved = max(float(np.max(np.abs(x - y))) for x, y in zip(theirs, jax.tree_util.tree_leaves(params)))
    print(f"jax {jax.__version__} vs pytorch {torch.__version__}, one float64 step: max abs parameter difference "
          f"{diff:.3e} (largest parameter change in the step {moved:.3e})")
    return 0 if diff < 1e-9 else 1


def main():
    a = parse()
    if a.threads:
        limit_threads(a.threads)
    sys.exit(check(a) if a.check else bench(a))


if __name__ == "__main__":
    main()
