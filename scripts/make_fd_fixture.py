#!/usr/bin/env python3
"""Writes the fixtures of tests/apps/quality_test.cpp (needs numpy and scipy only):

  tests/fixtures/quality/fd_is.safetensors  features, their numpy statistics, the Fréchet
      distances pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm) gives for
      them, and Inception Scores computed by the original improved-GAN code;
  tests/fixtures/quality/stats_f64.npz, stats_f32z.npz  pytorch-fid style statistics files
      (np.savez float64; np.savez_compressed float32).

Run from the repository root:  python3 scripts/make_fd_fixture.py
"""
import json
import os
import struct

import numpy as np
from scipy import linalg

try:  # the reference itself when installed
    from pytorch_fid.fid_score import calculate_frechet_distance
except ImportError:  # a verbatim copy of pytorch-fid 0.3.0's function
    def calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
        mu1 = np.atleast_1d(mu1)
        mu2 = np.atleast_1d(mu2)
        sigma1 = np.atleast_2d(sigma1)
        sigma2 = np.atleast_2d(sigma2)
        diff = mu1 - mu2
        covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
        if np.iscomplexobj(covmean):
            if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
                raise ValueError("Imaginary component {}".format(np.max(np.abs(covmean.imag))))
            covmean = covmean.real
        tr_covmean = np.trace(covmean)
        return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean


def inception_score(preds, splits):
    """The original improved-GAN code (openai/improved-gan, inception_score.py)."""
    scores = []
    for i in range(splits):
        part = preds[(i * preds.shape[0] // splits):((i + 1) * preds.shape[0] // splits), :]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        kl = np.mean(np.sum(kl, 1))
        scores.append(np.exp(kl))
    return np.mean(scores), np.std(scores)


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def save_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype="<f8")
        header[name] = {"dtype": "F64", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    out = "tests/fixtures/quality"
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261202)
    d = 24
    mix_a = rng.normal(size=(d, d)) / np.sqrt(d)
    mix_b = rng.normal(size=(d, d)) / np.sqrt(d)
    # Well-conditioned (N > D) and near-singular (N < D) feature sets, offset from 0.
    feats = {
        "a": rng.normal(size=(100, d)) @ mix_a + 3.0,
        "b": rng.normal(size=(100, d)) @ mix_b + 3.0 + 0.5 * rng.normal(size=d),
        "c": rng.normal(size=(10, d)) @ mix_a + 3.0,
        "e": rng.normal(size=(16, d)) @ mix_b + 2.5,
    }
    t = {}
    for k, x in feats.items():
        t["features_" + k] = x
        t["mu_" + k] = x.mean(axis=0)
        t["sigma_" + k] = np.cov(x, rowvar=False)
    pairs = ["ab", "ce", "ac", "eb"]
    t["fd"] = np.array([calculate_frechet_distance(t["mu_" + p[0]], t["sigma_" + p[0]],
                                                   t["mu_" + p[1]], t["sigma_" + p[1]]) for p in pairs])
    # Inception Score: 53 samples over 12 classes, 10 splits (parts of 5 or 6 samples).
    logits = 3.0 * rng.normal(size=(53, 12))
    t["is_logits"] = logits
    t["is_expected"] = np.array(inception_score(softmax(logits), 10))
    meta = {"fd_pairs": ",".join(pairs), "generator": "scripts/make_fd_fixture.py"}
    save_safetensors(os.path.join(out, "fd_is.safetensors"), t, meta)
    # pytorch-fid statistics files (that app writes np.savez(path, mu=mu, sigma=sigma)).
    small = feats["a"][:, :4]
    mu, sigma = small.mean(axis=0), np.cov(small, rowvar=False)
    np.savez(os.path.join(out, "stats_f64.npz"), mu=mu, sigma=sigma)
    np.savez_compressed(os.path.join(out, "stats_f32z.npz"), mu=mu.astype(np.float32),
                        sigma=sigma.astype(np.float32))
    for k, v in zip(pairs, t["fd"]):
        print("fd", k, repr(v))
    print("is", t["is_expected"], "mu", mu)


if __name__ == "__main__":
    main()
