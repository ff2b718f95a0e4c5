#!/usr/bin/env python3
"""Writes tests/fixtures/inception_parity.safetensors: pytorch-fid's own Inception model run on
the random weights our RNG draws, so tests/layers/inception_test.cpp can check our network
against it without the real weights (and without torch in CI). Developer-run; needs torch,
torchvision and pytorch-fid, and a built odegan_bench_inception.

  python3 scripts/make_inception_fixture.py --bench build/bin/odegan_bench_inception

1. `odegan_bench_inception --seed S --save-weights W` writes randomize_inception(net, S).
2. The weights are renamed to pytorch-fid's (convert_inception.to_torch) and handed to
   pytorch_fid.inception.InceptionV3 in place of the download, so its own fid_inception_v3(),
   FIDInceptionA/C/E_1/E_2 and preprocessing (resize_input=True, normalize_input=True) run.
3. Fixed inputs, by a closed form the C++ test computes identically: rgb (2, 3, 32, 32) and
   grey (1, 1, 40, 28), the grey one repeated to 3 channels as our run() does.
4. Stored: pool3 (the 2048-d output block 3) and logits (the model's fc on pool3), float32.
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_inception as ci  # noqa: E402


def rgb_images(torch):
    v = [((3 * h + 5 * w + 7 * c + 11 * n) % 17) / 16.0 * 0.5 + ((h * w + c) % 13) / 12.0 * 0.5
         for n in range(2) for c in range(3) for h in range(32) for w in range(32)]
    return torch.tensor(v, dtype=torch.float64).to(torch.float32).reshape(2, 3, 32, 32)


def grey_image(torch):
    v = [((2 * h + 3 * w) % 11) / 10.0 * 0.6 + (h % 7) / 6.0 * 0.4 for h in range(40) for w in range(28)]
    return torch.tensor(v, dtype=torch.float64).to(torch.float32).reshape(1, 1, 40, 28)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path of odegan_bench_inception")
    ap.add_argument("--seed", type=int, default=2015, help="must match kSeed in tests/layers/inception_test.cpp")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures",
                                                  "inception_parity.safetensors"))
    a = ap.parse_args()
    import torch
    import pytorch_fid
    import pytorch_fid.inception as pfi

    with tempfile.TemporaryDirectory() as tmp:
        wpath = os.path.join(tmp, "random_inception.safetensors")
        subprocess.run([a.bench, "--seed", str(a.seed), "--save-weights", wpath], check=True)
        ours = ci.read_safetensors(wpath)
    expected = ci.expected_tensors()
    assert set(ours) == set(expected), sorted(set(ours) ^ set(expected))
    state = {ci.to_torch(n): t for n, t in ours.items()}
    for n in list(state):
        if n.endswith(".bn.running_mean"):
            state[n[: -len("running_mean")] + "num_batches_tracked"] = torch.tensor(0)

    built = {}
    real_fid_inception_v3 = pfi.fid_inception_v3

    def fid_inception_v3_keeping_it():
        built["net"] = real_fid_inception_v3()
        return built["net"]

    # pytorch-fid downloads its weights inside fid_inception_v3(); give it ours instead.
    pfi.load_state_dict_from_url = lambda *args, **kwargs: state
    pfi.fid_inception_v3 = fid_inception_v3_keeping_it
    model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True)
    model.eval()
    fc = built["net"].fc
    assert sum(p.numel() for p in built["net"].parameters()) == ci.num_parameters()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = {}
    with torch.no_grad():
        for which, x in (("rgb", rgb_images(torch)), ("grey", grey_image(torch).repeat(1, 3, 1, 1))):
            pool3 = model(x)[0].flatten(1)
            out[f"pool3_{which}"] = pool3
            out[f"logits_{which}"] = fc(pool3)
            print(f"{which}: pool3 mean {pool3.mean():.4f} std {pool3.std():.4f}, "
                  f"zeros {(pool3 == 0).float().mean():.3f}; logits std {out[f'logits_{which}'].std():.4f}")
    cmd = f"python3 scripts/make_inception_fixture.py --bench {a.bench} --seed {a.seed}"
    ci.write_safetensors(os.path.abspath(a.out), out, {
        "command": cmd, "seed": a.seed, "torch": torch.__version__,
        "pytorch_fid": getattr(pytorch_fid, "__version__", "?")})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
