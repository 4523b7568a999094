#!/usr/bin/python3
"""Held-out perplexity reference for strata, from the PyTorch model.

The slice: the first N_WINDOWS non-overlapping windows of WINDOW tokens of the held-out token
stream (train.py's split: the last 2% of KJV verses, tokenized book by book with <|endoftext|>
after each book). Each window is evaluated on its own, from an empty context (its first token at
position 0, no BOS added): the window's NLL is the sum over positions 1..WINDOW-1 of
-log softmax(logits after tokens 0..i-1)[token i], natural log. Perplexity over the slice is
exp(sum of window NLLs / (N_WINDOWS * (WINDOW - 1))).

Reference numbers come from two models: "gguf" is the PyTorch model with the exported GGUF
weights (F16 matrices, exactly what strata loads: the number strata must reproduce), "checkpoint"
is the F32 training checkpoint. The whole held-out stream (all full windows) is also scored.

Writes models/heldout-slice.txt (one window per line, space-separated ids) and
models/strata-demo.eval.json; also a greedy continuation (token ids) strata can compare against.

Usage: /usr/bin/python3 tools/train/eval_ppl.py [--ckpt ...] [--gguf models/strata-demo.gguf]
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import gguf_io  # noqa: E402
from export_gguf import torch_with_weights  # noqa: E402
from model import load_checkpoint  # noqa: E402

N_WINDOWS = 8
WINDOW = 256
GREEDY_PROMPT = "And God said, Let there be"
GREEDY_TOKENS = 32


@torch.no_grad()
def window_nll(model, windows):
    """windows [n, w] -> per-window summed NLL (float64 list) and argmax-accuracy."""
    logits, _ = model(windows)
    logp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    tgt = windows[:, 1:]
    nll = -logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    acc = (logits[:, :-1].argmax(-1) == tgt).double().mean().item()
    return nll.sum(-1).tolist(), acc


def score(model, stream, n_windows):
    wins = stream[: n_windows * WINDOW].long().view(n_windows, WINDOW)
    sums, accs = [], []
    for i in range(0, n_windows, 8):
        s, a = window_nll(model, wins[i:i + 8])
        sums += s
        accs.append(a * len(s))
    total = sum(sums) / (n_windows * (WINDOW - 1))
    return {"per_window_nll_sum": sums, "mean_nll": total, "ppl": math.exp(total),
            "top1_accuracy": sum(accs) / n_windows}


@torch.no_grad()
def greedy(model, ids, n):
    out = list(ids)
    for _ in range(n):
        logits, _ = model(torch.tensor([out[-model.c.n_ctx:]]))
        out.append(int(logits[0, -1].argmax()))
    return out[len(ids):]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="tools/train/out/ckpt.pt")
    ap.add_argument("--data", default="tools/train/out")
    ap.add_argument("--gguf", default="models/strata-demo.gguf")
    ap.add_argument("--models", default="models")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, ck = load_checkpoint(args.ckpt)
    _, tensors = gguf_io.read(args.gguf)
    gmodel = torch_with_weights(model, tensors).eval()
    with open(os.path.join(args.data, "tokenizer.json")) as f:
        tk = bpe.Tokenizer(json.load(f)["merges"])
    held = torch.load(os.path.join(args.data, "tokens.pt"))["heldout"]
    slice_ids = held[: N_WINDOWS * WINDOW].long().view(N_WINDOWS, WINDOW)

    res_gguf = score(gmodel, held, N_WINDOWS)
    res_ckpt = score(model, held, N_WINDOWS)
    n_all = held.numel() // WINDOW
    full = score(gmodel, held, n_all)
    prompt = tk.encode(GREEDY_PROMPT)
    cont = greedy(gmodel, prompt, GREEDY_TOKENS)

    with open(os.path.join(args.models, "heldout-slice.txt"), "w") as f:
        for row in slice_ids.tolist():
            f.write(" ".join(map(str, row)) + "\n")
    report = {
        "definition": __doc__.split("\n\n")[1].replace("\n", " "),
        "n_windows": N_WINDOWS, "window": WINDOW, "predicted_tokens": N_WINDOWS * (WINDOW - 1),
        "slice_file": "heldout-slice.txt",
        "slice_text_start": tk.decode(slice_ids[0, :64].tolist()),
        "gguf": res_gguf,
        "checkpoint": res_ckpt,
        "full_heldout_gguf": {"n_windows": n_all, "mean_nll": full["mean_nll"],
                              "ppl": full["ppl"], "top1_accuracy": full["top1_accuracy"]},
        "greedy": {"prompt": GREEDY_PROMPT, "prompt_ids": prompt, "continuation_ids": cont,
                   "continuation_text": tk.decode(cont),
                   "rule": "model = gguf weights, argmax, lowest id wins ties, no BOS"},
        "training": {"steps": ck["step"], "train_seconds": round(ck["train_seconds"]),
                     "args": ck["args"]},
        "slice_token_ids": slice_ids.tolist(),
    }
    path = os.path.join(args.models, "strata-demo.eval.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"slice ppl: gguf {res_gguf['ppl']:.3f} (nll {res_gguf['mean_nll']:.5f}), checkpoint "
          f"{res_ckpt['ppl']:.3f}; full held-out ({n_all} windows) ppl {full['ppl']:.3f}")
    print(f"greedy: {GREEDY_PROMPT!r} -> {tk.decode(cont)!r}")
    print(f"wrote {path} and {os.path.join(args.models, 'heldout-slice.txt')}")


if __name__ == "__main__":
    main()
