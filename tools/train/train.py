#!/usr/bin/python3
"""Trains strata's demo MoE model from scratch on the KJV Bible (one CPU thread).

Steps: dump the KJV with `bible`, split off the held-out tail, learn a byte-level BPE vocabulary
on the training part, tokenize, then train a qwen3moe-layout model (model.py) with AdamW, a
warmup-stable-decay learning rate and a Switch-style load-balancing loss. Everything is seeded;
with the same torch build and one thread, the same arguments give the same checkpoint (a run cut
short by --max-minutes is replayed with the --steps/--decay-start it saved).

Usage: nice -n 19 /usr/bin/python3 tools/train/train.py --out tools/train/out [--steps N]
           [--max-minutes M]
Writes OUT/tokenizer.json, OUT/tokens.pt (train/held-out id streams), OUT/ckpt.pt (the final
model, also refreshed during training) and prints train / held-out loss periodically.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402
from model import Config, Model  # noqa: E402


def build_data(out_dir, vocab_size):
    """Learns (or reloads) the tokenizer and id streams. Returns (Tokenizer, train ids, held ids)."""
    tok_path = os.path.join(out_dir, "tokenizer.json")
    ids_path = os.path.join(out_dir, "tokens.pt")
    if os.path.exists(tok_path) and os.path.exists(ids_path):
        with open(tok_path) as f:
            tk = bpe.Tokenizer(json.load(f)["merges"])
        if tk.vocab_size == vocab_size:
            d = torch.load(ids_path)
            return tk, d["train"], d["heldout"]
    verses = corpus.load_verses()
    train_v, held_v = corpus.train_heldout_split(verses)
    train_docs = [corpus.doc_text(d) for d in corpus.split_documents(train_v)]
    held_docs = [corpus.doc_text(d) for d in corpus.split_documents(held_v)]
    t0 = time.time()
    merges = bpe.train_bpe(train_docs, vocab_size)
    tk = bpe.Tokenizer(merges)
    print(f"bpe: {len(merges)} merges in {time.time() - t0:.1f}s", flush=True)

    def stream(docs):
        ids = []
        for d in docs:
            ids.extend(tk.encode(d))
            ids.append(tk.eot_id)
        return torch.tensor(ids, dtype=torch.int16 if vocab_size < 32768 else torch.int32)

    train_ids, held_ids = stream(train_docs), stream(held_docs)
    with open(tok_path, "w") as f:
        json.dump({"merges": [list(m) for m in merges], "heldout_first_verse":
                   "{} {}:{}".format(*held_v[0][:3])}, f)
    torch.save({"train": train_ids, "heldout": held_ids}, ids_path)
    return tk, train_ids, held_ids


def windows(ids, n_ctx, n):
    """The first n non-overlapping (n_ctx + 1)-token windows of a stream, as [n, n_ctx + 1]."""
    need = n * n_ctx + 1
    if ids.numel() < need:
        raise ValueError(f"stream has {ids.numel()} tokens, need {need}")
    return torch.stack([ids[i * n_ctx: i * n_ctx + n_ctx + 1].long() for i in range(n)])


@torch.no_grad()
def eval_loss(model, batch):
    model.eval()
    logits, _ = model(batch[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             batch[:, 1:].reshape(-1))
    model.train()
    return loss.item()


def lr_at(step, peak, warmup, decay_start, total, floor):
    """Warmup-stable-decay: linear warmup, constant peak, then linear decay to floor from
    decay_start to total. Unlike cosine, the stable phase does not depend on the total length,
    so a run whose length is decided by the time budget is still replayed exactly by passing
    the recorded --steps and --decay-start."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if step < decay_start:
        return peak
    frac = (step - decay_start) / max(1, total - decay_start)
    return peak + (floor - peak) * min(1.0, frac)


def save(path, model, cfg, args, step, history, elapsed):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "step": step,
                "args": vars(args), "history": history, "train_seconds": elapsed}, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tools/train/out")
    ap.add_argument("--steps", type=int, default=900)
    ap.add_argument("--decay-start", type=int, default=0,
                    help="step where the lr decay begins; 0 = steps * (1 - decay-frac)")
    ap.add_argument("--decay-frac", type=float, default=0.25)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--min-lr", type=float, default=3e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--aux-coef", type=float, default=0.01)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="wall-time budget; 0 = none. When (1 - decay-frac) of it has passed, the"
                    " decay phase starts early and --steps/--decay-start are shortened so that"
                    " the run ends on time; the values used are saved in the checkpoint.")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    tk, train_ids, held_ids = build_data(args.out, args.vocab)
    cfg = Config(vocab_size=tk.vocab_size)
    print(f"tokens: train {train_ids.numel()} held-out {held_ids.numel()}", flush=True)
    held_batch = windows(held_ids, cfg.n_ctx, 8)

    gen = torch.Generator().manual_seed(args.seed)
    model = Model(cfg)
    model.init_weights(gen)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"config {cfg.to_dict()} params {n_params}", flush=True)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    ckpt = os.path.join(args.out, "ckpt.pt")
    history = []
    t0 = time.time()
    n_train = train_ids.numel() - cfg.n_ctx - 1
    if args.decay_start <= 0:
        args.decay_start = int(args.steps * (1 - args.decay_frac))
    step = 0
    while step < args.steps:
        elapsed = time.time() - t0
        if (args.max_minutes > 0 and step < args.decay_start and
                elapsed > args.max_minutes * 60 * (1 - args.decay_frac)):
            # Out of stable-phase time: decay now over a proportional number of further steps.
            args.decay_start = step
            args.steps = step + max(1, int(step * args.decay_frac / (1 - args.decay_frac)))
            print(f"time budget: decaying from step {step} to {args.steps}", flush=True)
        lr = lr_at(step, args.lr, args.warmup, args.decay_start, args.steps, args.min_lr)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, n_train, (args.batch,), generator=gen)
        batch = torch.stack([train_ids[s: s + cfg.n_ctx + 1].long() for s in starts.tolist()])
        logits, aux = model(batch[:, :-1])
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size),
                                               batch[:, 1:].reshape(-1))
        loss = ce + args.aux_coef * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        elapsed = time.time() - t0
        if step % 10 == 0:
            print(f"step {step} lr {lr:.2e} train_ce {ce.item():.4f} aux {aux.item():.4f} "
                  f"t {elapsed:.0f}s", flush=True)
        last = step == args.steps - 1
        # Hard stop well past the budget (the decay phase ran slower than the stable phase).
        out_of_time = args.max_minutes > 0 and elapsed > args.max_minutes * 60 * 1.15
        if step % args.eval_every == 0 or last or out_of_time:
            hl = eval_loss(model, held_batch)
            history.append({"step": step, "train_ce": ce.item(), "heldout_ce": hl,
                            "lr": lr, "seconds": round(elapsed, 1)})
            print(f"eval step {step} heldout_ce {hl:.4f} ppl {math.exp(hl):.2f}", flush=True)
            save(ckpt, model, cfg, args, step + 1, history, elapsed)
        step += 1
        if out_of_time:
            print(f"stopping early at step {step}: hard time limit", flush=True)
            break
    print(f"done: {step} steps in {time.time() - t0:.0f}s, checkpoint {ckpt}", flush=True)


if __name__ == "__main__":
    main()
