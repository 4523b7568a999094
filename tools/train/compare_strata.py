#!/usr/bin/python3
"""Compares `strata logits` on the exported GGUF with the PyTorch reference (GGUF weights).

Runs the strata binary on the first N tokens of the held-out slice (models/heldout-slice.txt),
reads its float32 logits and reports the max abs difference, argmax agreement and the NLL of the
window from both sides, so an engine/export mismatch shows up as a number, not a guess.

Usage: /usr/bin/python3 tools/train/compare_strata.py --strata build-x/strata [--n 64]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_io  # noqa: E402
from export_gguf import torch_with_weights  # noqa: E402
from model import load_checkpoint  # noqa: E402


def nll(logits, ids):
    lg = logits[:-1].astype(np.float64)
    lse = np.log(np.exp(lg - lg.max(-1, keepdims=True)).sum(-1)) + lg.max(-1)
    return float((lse - lg[np.arange(len(ids) - 1), ids[1:]]).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    ap.add_argument("--gguf", default="models/strata-demo.gguf")
    ap.add_argument("--ckpt", default="tools/train/out/ckpt.pt")
    ap.add_argument("--slice", default="models/heldout-slice.txt")
    ap.add_argument("--n", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with open(args.slice) as f:
        ids = [int(x) for x in f.readline().split()][: args.n]
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.f32")
        subprocess.run([args.strata, "logits", "-m", args.gguf, "-t", "1", "--tokens",
                        ",".join(map(str, ids)), "-o", out], check=True)
        got = np.fromfile(out, dtype="<f4")
    model, _ = load_checkpoint(args.ckpt)
    meta, tensors = gguf_io.read(args.gguf)
    model = torch_with_weights(model, tensors).eval()
    with torch.no_grad():
        ref = model(torch.tensor([ids]))[0][0].double().numpy()
    got = got.reshape(ref.shape)
    diff = np.abs(got - ref).max()
    agree = (got.argmax(-1) == ref.argmax(-1)).mean()
    print(f"{len(ids)} tokens: max |strata - torch| {diff:.3e} (logit range "
          f"{ref.min():.1f}..{ref.max():.1f}), argmax agree {agree * 100:.1f}%, window NLL "
          f"strata {nll(got, np.array(ids)):.4f} torch {nll(ref, np.array(ids)):.4f}")


if __name__ == "__main__":
    main()
