#!/usr/bin/env python3
"""pytorch-fid's Inception weights -> a safetensors file for odegan (--inception FILE).

  python3 scripts/convert_inception.py pt_inception-2015-12-05-6726825d.pth inception.safetensors

The input is the state dict pytorch-fid downloads (FID_WEIGHTS_URL in pytorch_fid/inception.py,
the 2015-12-05 TensorFlow Inception ported to PyTorch). Names keep pytorch-fid's modules
(Conv2d_1a_3x3.conv.weight, Mixed_5b.branch1x1.bn.running_mean, fc.weight, ...), as ours do
(batch norm's are PyTorch's: weight, bias, running_mean, running_var); `num_batches_tracked`
is dropped. (Files converted before batch norm took these names hold gamma / beta; odegan
still loads them.) Every tensor of
the network must be found with its shape (listed below, as layers/models/inception.cpp builds
it) and nothing else may be left over; the output is float32. Needs only torch (and writes the
safetensors format itself). scripts/make_inception_fixture.py imports the name mapping.
"""
import argparse
import json
import os
import struct
import sys

# ---- the network: (module, in, out, kh, kw) for every BasicConv2d, as pytorch-fid builds it


def _mixed_a(name, cin, pool):
    return [(f"{name}.branch1x1", cin, 64, 1, 1), (f"{name}.branch5x5_1", cin, 48, 1, 1),
            (f"{name}.branch5x5_2", 48, 64, 5, 5), (f"{name}.branch3x3dbl_1", cin, 64, 1, 1),
            (f"{name}.branch3x3dbl_2", 64, 96, 3, 3), (f"{name}.branch3x3dbl_3", 96, 96, 3, 3),
            (f"{name}.branch_pool", cin, pool, 1, 1)]


def _mixed_c(name, c7):
    return [(f"{name}.branch1x1", 768, 192, 1, 1), (f"{name}.branch7x7_1", 768, c7, 1, 1),
            (f"{name}.branch7x7_2", c7, c7, 1, 7), (f"{name}.branch7x7_3", c7, 192, 7, 1),
            (f"{name}.branch7x7dbl_1", 768, c7, 1, 1), (f"{name}.branch7x7dbl_2", c7, c7, 7, 1),
            (f"{name}.branch7x7dbl_3", c7, c7, 1, 7), (f"{name}.branch7x7dbl_4", c7, c7, 7, 1),
            (f"{name}.branch7x7dbl_5", c7, 192, 1, 7), (f"{name}.branch_pool", 768, 192, 1, 1)]


def _mixed_e(name, cin):
    return [(f"{name}.branch1x1", cin, 320, 1, 1), (f"{name}.branch3x3_1", cin, 384, 1, 1),
            (f"{name}.branch3x3_2a", 384, 384, 1, 3), (f"{name}.branch3x3_2b", 384, 384, 3, 1),
            (f"{name}.branch3x3dbl_1", cin, 448, 1, 1), (f"{name}.branch3x3dbl_2", 448, 384, 3, 3),
            (f"{name}.branch3x3dbl_3a", 384, 384, 1, 3), (f"{name}.branch3x3dbl_3b", 384, 384, 3, 1),
            (f"{name}.branch_pool", cin, 192, 1, 1)]


CONVS = ([("Conv2d_1a_3x3", 3, 32, 3, 3), ("Conv2d_2a_3x3", 32, 32, 3, 3), ("Conv2d_2b_3x3", 32, 64, 3, 3),
          ("Conv2d_3b_1x1", 64, 80, 1, 1), ("Conv2d_4a_3x3", 80, 192, 3, 3)]
         + _mixed_a("Mixed_5b", 192, 32) + _mixed_a("Mixed_5c", 256, 64) + _mixed_a("Mixed_5d", 288, 64)
         + [("Mixed_6a.branch3x3", 288, 384, 3, 3), ("Mixed_6a.branch3x3dbl_1", 288, 64, 1, 1),
            ("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 3), ("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3)]
         + _mixed_c("Mixed_6b", 128) + _mixed_c("Mixed_6c", 160) + _mixed_c("Mixed_6d", 160)
         + _mixed_c("Mixed_6e", 192)
         + [("Mixed_7a.branch3x3_1", 768, 192, 1, 1), ("Mixed_7a.branch3x3_2", 192, 320, 3, 3),
            ("Mixed_7a.branch7x7x3_1", 768, 192, 1, 1), ("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7),
            ("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1), ("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3)]
         + _mixed_e("Mixed_7b", 1280) + _mixed_e("Mixed_7c", 2048))


def expected_tensors():
    """Our name -> shape, for every tensor of the network."""
    out = {}
    for m, cin, cout, kh, kw in CONVS:
        out[f"{m}.conv.weight"] = (cout, cin, kh, kw)
        for t in ("weight", "bias", "running_mean", "running_var"):
            out[f"{m}.bn.{t}"] = (cout,)
    out["fc.weight"] = (1008, 2048)
    out["fc.bias"] = (1008,)
    return out


def num_parameters():
    """Parameters (not running statistics), as Module::num_parameters counts them."""
    return sum(_numel(s) for n, s in expected_tensors().items() if "running_" not in n)


def to_ours(name):
    """pytorch-fid / torchvision name -> ours (None for num_batches_tracked)."""
    if name.endswith(".num_batches_tracked"):
        return None
    return name


def to_torch(name):
    """Our name -> pytorch-fid's (the same since batch norm took PyTorch's names)."""
    return name


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# ---- safetensors, written and read without the `safetensors` package


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> torch tensor (written as float32, little-endian). Atomic."""
    import torch

    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu", torch.float32).contiguous()
        try:
            data = t.numpy().tobytes()
        except (RuntimeError, ImportError):  # torch without numpy
            data = struct.pack(f"<{t.numel()}f", *t.flatten().tolist())
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """name -> float32 torch tensor (F32 files only, as odegan writes them)."""
    import torch

    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"{path}: tensor '{name}' is {info['dtype']}, expected F32")
        b, e = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(raw[base + b : base + e]), dtype=torch.float32).reshape(info["shape"])
    return out


def convert(state, source):
    """pytorch-fid state dict -> our names, checked against the network. Exits naming problems."""
    expected = expected_tensors()
    ours, problems = {}, []
    for name, t in state.items():
        mine = to_ours(name)
        if mine is None:
            continue
        if mine not in expected:
            problems.append(f"unexpected tensor '{name}' {tuple(t.shape)}")
        elif tuple(t.shape) != expected[mine]:
            problems.append(f"'{name}': shape {tuple(t.shape)}, expected {expected[mine]}")
        elif not t.is_floating_point():
            problems.append(f"'{name}': dtype {t.dtype}, expected a float tensor")
        else:
            ours[mine] = t
    for mine in sorted(set(expected) - set(ours)):
        if not any(p.startswith(f"'{to_torch(mine)}'") for p in problems):
            problems.append(f"missing tensor '{to_torch(mine)}' {expected[mine]}")
    if problems:
        sys.exit(f"{source}: not pytorch-fid's Inception weights ({len(problems)} problem(s)):\n  "
                 + "\n  ".join(problems))
    return ours


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pth", help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth")
    ap.add_argument("out", help="safetensors file to write")
    a = ap.parse_args()
    import torch

    if not os.path.isfile(a.pth):
        sys.exit(f"{a.pth}: no such file")
    try:
        state = torch.load(a.pth, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- any unreadable file is reported the same way
        sys.exit(f"{a.pth}: cannot read as a PyTorch state dict: {e}")
    if not isinstance(state, dict):
        sys.exit(f"{a.pth}: expected a state dict, found {type(state).__name__}")
    ours = convert(state, a.pth)
    write_safetensors(a.out, ours, {"format": "odegan", "source": os.path.basename(a.pth)})
    print(f"wrote {a.out}: {len(ours)} tensors, {num_parameters()} parameters")


if __name__ == "__main__":
    main()
