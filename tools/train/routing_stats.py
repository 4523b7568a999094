#!/usr/bin/python3
"""Per-layer expert-routing statistics of the exported model on the held-out text.

Runs the PyTorch model with the GGUF weights over every full 256-token window of the held-out
stream (each window from an empty context, as eval_ppl.py) and records, per layer: how often each
expert is selected (over all top-k slots) and chosen first, the entropy and skew of that usage,
router confidence, and how often a token reuses experts of the token just before it (the signal an
expert cache can exploit), against the rate expected if consecutive choices were independent.

Writes models/strata-demo.routing.json. Usage: /usr/bin/python3 tools/train/routing_stats.py
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_io  # noqa: E402
from export_gguf import torch_with_weights  # noqa: E402
from model import load_checkpoint  # noqa: E402

WINDOW = 256
RECENT = 4  # "recently used" horizon, in tokens, for the reuse-within-horizon rate


def entropy_bits(p):
    return -sum(x * math.log2(x) for x in p if x > 0)


def layer_stats(top_i, top_w, probs, n_windows, n_expert):
    """top_i/top_w [n_windows * WINDOW, k], probs [.., n_expert] for one layer."""
    n, k = top_i.shape
    sel = torch.zeros(n, n_expert, dtype=torch.bool)
    sel.scatter_(1, top_i, True)
    counts = sel.sum(0).double()
    share = (counts / (n * k)).tolist()
    first = top_i.gather(1, top_w.argmax(1, keepdim=True)).squeeze(1)
    first_counts = torch.bincount(first, minlength=n_expert).tolist()
    mean_share = 1.0 / n_expert
    std = math.sqrt(sum((s - mean_share) ** 2 for s in share) / n_expert)

    w = sel.view(n_windows, WINDOW, n_expert)
    prev, cur = w[:, :-1], w[:, 1:]
    overlap = (prev & cur).sum(-1).double()              # |A_t ∩ A_{t-1}| per pair
    p_in = (counts / n)                                   # P(expert e is in a token's set)
    recent = torch.zeros_like(w[:, RECENT:])
    for d in range(1, RECENT + 1):
        recent |= w[:, RECENT - d: WINDOW - d]
    hit_recent = (w[:, RECENT:] & recent).sum(-1).double() / k
    return {
        "usage_counts": counts.long().tolist(),
        "usage_share": [round(s, 5) for s in share],
        "first_choice_counts": first_counts,
        "entropy_bits": round(entropy_bits(share), 4),
        "entropy_max_bits": round(math.log2(n_expert), 4),
        "normalized_entropy": round(entropy_bits(share) / math.log2(n_expert), 4),
        "max_over_min_share": round(max(share) / max(min(share), 1e-12), 3),
        "share_cv": round(std / mean_share, 4),
        "mean_router_top1_prob": round(probs.max(1).values.mean().item(), 4),
        "mean_top1_weight_after_renorm": round(top_w.max(1).values.mean().item(), 4),
        "consecutive": {
            "mean_overlap_fraction": round(overlap.mean().item() / k, 4),
            "any_shared": round((overlap > 0).double().mean().item(), 4),
            "identical_set": round((overlap == k).double().mean().item(), 4),
            "independent_baseline_overlap_fraction": round((p_in ** 2).sum().item() / k, 4),
        },
        f"hit_rate_in_last_{RECENT}_tokens": round(hit_recent.mean().item(), 4),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="tools/train/out/ckpt.pt")
    ap.add_argument("--data", default="tools/train/out")
    ap.add_argument("--gguf", default="models/strata-demo.gguf")
    ap.add_argument("--out", default="models/strata-demo.routing.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, _ = load_checkpoint(args.ckpt)
    _, tensors = gguf_io.read(args.gguf)
    model = torch_with_weights(model, tensors).eval()
    c = model.c
    held = torch.load(os.path.join(args.data, "tokens.pt"))["heldout"].long()
    n_win = held.numel() // WINDOW
    wins = held[: n_win * WINDOW].view(n_win, WINDOW)
    per_layer = [[] for _ in range(c.n_layer)]
    with torch.no_grad():
        for i in range(0, n_win, 8):
            stats = []
            model(wins[i:i + 8], stats)
            for layer, s in enumerate(stats):
                per_layer[layer].append(s)
    layers = []
    for layer, chunks in enumerate(per_layer):
        top_i = torch.cat([s[0] for s in chunks])
        top_w = torch.cat([s[1] for s in chunks])
        probs = torch.cat([s[2] for s in chunks])
        st = layer_stats(top_i, top_w, probs, n_win, c.n_expert)
        st["layer"] = layer
        layers.append(st)
        con = st["consecutive"]
        print(f"layer {layer}: share {st['usage_share']} H {st['entropy_bits']:.3f}/"
              f"{st['entropy_max_bits']:.0f} bits, max/min {st['max_over_min_share']:.2f}, "
              f"consecutive overlap {con['mean_overlap_fraction']:.3f} "
              f"(independent {con['independent_baseline_overlap_fraction']:.3f}), "
              f"identical {con['identical_set']:.3f}")
    out = {"model": os.path.basename(args.gguf), "text": "held-out KJV split",
           "n_windows": n_win, "window": WINDOW, "tokens": n_win * WINDOW,
           "n_expert": c.n_expert, "n_expert_used": c.n_expert_used, "layers": layers}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
