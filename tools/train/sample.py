#!/usr/bin/python3
"""Prints generations from the PyTorch model (greedy, and seeded temperature/top-k sampling).

Usage: /usr/bin/python3 tools/train/sample.py [--ckpt ...] [--tokens 60] [--seed 7]
           [--temperature 0.8] [--top-k 40] [prompt ...]
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from model import load_checkpoint  # noqa: E402

DEFAULT_PROMPTS = ["In the beginning", "And the LORD said unto Moses,", "Blessed are the"]


@torch.no_grad()
def generate(model, ids, n, temperature, top_k, gen, stop_id):
    """temperature 0 = greedy (lowest id wins ties). Stops early at stop_id."""
    out = list(ids)
    for _ in range(n):
        logits = model(torch.tensor([out[-model.c.n_ctx:]]))[0][0, -1]
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            v, i = (logits / temperature).topk(top_k)
            nxt = int(i[torch.multinomial(torch.softmax(v, -1), 1, generator=gen)])
        out.append(nxt)
        if nxt == stop_id:
            break
    return out[len(ids):]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="tools/train/out/ckpt.pt")
    ap.add_argument("--tokenizer", default="tools/train/out/tokenizer.json")
    ap.add_argument("--tokens", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-k", type=int, default=40)
    ap.add_argument("prompts", nargs="*")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, _ = load_checkpoint(args.ckpt)
    with open(args.tokenizer) as f:
        tk = bpe.Tokenizer(json.load(f)["merges"])
    gen = torch.Generator().manual_seed(args.seed)
    for p in args.prompts or DEFAULT_PROMPTS:
        ids = tk.encode(p)
        g = generate(model, ids, args.tokens, 0, 0, gen, tk.eot_id)
        s = generate(model, ids, args.tokens, args.temperature, args.top_k, gen, tk.eot_id)
        print(f"[greedy]  {p}{tk.decode(g)}\n")
        print(f"[sampled T={args.temperature} top-k={args.top_k} seed={args.seed}]  "
              f"{p}{tk.decode(s)}\n")


if __name__ == "__main__":
    main()
