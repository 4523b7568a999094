#!/usr/bin/python3
"""Exports a train.py checkpoint as a qwen3moe GGUF v3 file and verifies it.

Layout follows llama.cpp's qwen3moe loader: untied token_embd/output, per-layer attention with
per-head q/k RMSNorm, NeoX RoPE (no Q/K row permutation: llama.cpp's converter only permutes for
the normal-RoPE llama family), a softmax router (ffn_gate_inp) and expert weights stacked into one
3-D tensor each. GGUF lists dimensions fastest-first (ne[0] = row length), the reverse of the
numpy/PyTorch shape, so a torch Linear weight [out, in] is written unchanged and has ne [in, out];
expert stacks [n_expert, n_ff, n_embd] get ne [n_embd, n_ff, n_expert] (gate/up) and
[n_expert, n_embd, n_ff] gets ne [n_ff, n_embd, n_expert] (down). Norm weights and the router stay
F32, every other matrix is F16.

Verification (always run): the file is parsed back with gguf_io.read (offsets, alignment, shapes,
metadata round trip, bitwise tensor data), then a float64 NumPy forward pass written from
llama.cpp's graph semantics (not from model.py) runs on the GGUF weights and must agree with the
PyTorch model loaded with the same F16-rounded weights.

Usage: /usr/bin/python3 tools/train/export_gguf.py --ckpt tools/train/out/ckpt.pt
           --tokenizer tools/train/out/tokenizer.json --out models/strata-demo.gguf
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import gguf_io as g  # noqa: E402
from model import load_checkpoint  # noqa: E402

ARCH = "qwen3moe"
TOKEN_NORMAL, TOKEN_CONTROL = 1, 3
FILE_TYPE_MOSTLY_F16 = 1


def tensor_map(model):
    """[(gguf name, numpy array in numpy order, ggml type)] in llama.cpp's usual file order."""
    c = model.c
    f32 = lambda t: t.detach().float().numpy()  # noqa: E731
    out = [("token_embd.weight", f32(model.tok_embd), g.GGML_F16)]
    for i, L in enumerate(model.layers):
        p = f"blk.{i}."
        out += [
            (p + "attn_norm.weight", f32(L.attn_norm), g.GGML_F32),
            (p + "attn_q.weight", f32(L.wq), g.GGML_F16),
            (p + "attn_k.weight", f32(L.wk), g.GGML_F16),
            (p + "attn_v.weight", f32(L.wv), g.GGML_F16),
            (p + "attn_output.weight", f32(L.wo), g.GGML_F16),
            (p + "attn_q_norm.weight", f32(L.q_norm), g.GGML_F32),
            (p + "attn_k_norm.weight", f32(L.k_norm), g.GGML_F32),
            (p + "ffn_norm.weight", f32(L.ffn_norm), g.GGML_F32),
            (p + "ffn_gate_inp.weight", f32(L.router), g.GGML_F32),
            (p + "ffn_gate_exps.weight", f32(L.w_gate), g.GGML_F16),
            (p + "ffn_up_exps.weight", f32(L.w_up), g.GGML_F16),
            (p + "ffn_down_exps.weight", f32(L.w_down), g.GGML_F16),
        ]
    assert c.n_layer == len(model.layers)
    out += [("output_norm.weight", f32(model.out_norm), g.GGML_F32),
            ("output.weight", f32(model.output), g.GGML_F16)]
    return out


def build_writer(model, tk, name):
    c = model.c
    w = g.Writer()
    w.add("general.architecture", g.STRING, ARCH)
    w.add("general.name", g.STRING, name)
    w.add("general.alignment", g.U32, g.ALIGNMENT)
    w.add("general.file_type", g.U32, FILE_TYPE_MOSTLY_F16)
    w.add("general.description", g.STRING,
          "strata demo: tiny qwen3moe trained from scratch on the KJV Bible (bible-kjv-text 4.38)")
    a = ARCH + "."
    u32 = [("context_length", c.n_ctx), ("embedding_length", c.n_embd),
           ("block_count", c.n_layer), ("feed_forward_length", c.n_ff_exp),
           ("attention.head_count", c.n_head), ("attention.head_count_kv", c.n_head_kv),
           ("attention.key_length", c.head_dim), ("attention.value_length", c.head_dim),
           ("rope.dimension_count", c.head_dim), ("vocab_size", c.vocab_size),
           ("expert_count", c.n_expert), ("expert_used_count", c.n_expert_used),
           ("expert_feed_forward_length", c.n_ff_exp)]
    for k, v in u32:
        w.add(a + k, g.U32, int(v))
    w.add(a + "rope.freq_base", g.F32, float(c.rope_base))
    w.add(a + "attention.layer_norm_rms_epsilon", g.F32, float(c.rms_eps))
    w.add("tokenizer.ggml.model", g.STRING, "gpt2")
    w.add("tokenizer.ggml.pre", g.STRING, "gpt-2")
    w.add("tokenizer.ggml.tokens", g.ARRAY, tk.tokens, g.STRING)
    types = [TOKEN_NORMAL] * tk.vocab_size
    types[tk.eot_id] = TOKEN_CONTROL
    w.add("tokenizer.ggml.token_type", g.ARRAY, types, g.I32)
    w.add("tokenizer.ggml.merges", g.ARRAY, [f"{a_} {b_}" for a_, b_ in tk.merges], g.STRING)
    w.add("tokenizer.ggml.bos_token_id", g.U32, tk.eot_id)
    w.add("tokenizer.ggml.eos_token_id", g.U32, tk.eot_id)
    w.add("tokenizer.ggml.add_bos_token", g.BOOL, False)
    w.add("tokenizer.ggml.add_eos_token", g.BOOL, False)
    for tname, arr, gtype in tensor_map(model):
        w.add_tensor(tname, arr, gtype)
    return w


def check_file(path, writer):
    """Parses the written file and compares every key and tensor with what was meant."""
    meta, tensors = g.read(path)
    types = meta.pop("__types__")
    if [k for k, *_ in writer.kv] != list(meta.keys()):
        raise AssertionError("metadata keys differ after read-back")
    for key, vtype, value, _ in writer.kv:
        if types[key] != vtype:
            raise AssertionError(f"{key}: type {types[key]} != {vtype}")
        if vtype == g.F32:
            ok = np.float32(value) == np.float32(meta[key])
        else:
            ok = meta[key] == value
        if not ok:
            raise AssertionError(f"{key}: value differs after read-back")
    if list(tensors) != [n for n, *_ in writer.tensors]:
        raise AssertionError("tensor order differs after read-back")
    end = 0
    for name, gtype, arr in writer.tensors:
        t = tensors[name]
        if t["type"] != gtype or t["ne"] != list(reversed(arr.shape)):
            raise AssertionError(f"{name}: type/ne {t['type']} {t['ne']} wrong")
        if t["abs_offset"] % g.ALIGNMENT or t["offset"] < end:
            raise AssertionError(f"{name}: misaligned or overlapping at {t['abs_offset']}")
        if t["data"].tobytes() != arr.tobytes():
            raise AssertionError(f"{name}: data differs after read-back")
        end = t["offset"] + arr.nbytes
    size = os.path.getsize(path)
    last = tensors[writer.tensors[-1][0]]
    if last["abs_offset"] + writer.tensors[-1][2].nbytes > size:
        raise AssertionError("file shorter than its tensor table")
    return meta, tensors


# ---- float64 NumPy forward pass from GGUF tensors (llama.cpp qwen3moe semantics) ----

def _rms(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def _rope_neox(x, pos, base):
    """x [t, heads, d]: rotate pairs (i, i + d/2) by pos * base^(-2i/d)."""
    d = x.shape[-1]
    theta = pos[:, None] * base ** (-np.arange(0, d, 2) / d)
    cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
    a, b = x[..., :d // 2], x[..., d // 2:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)


def numpy_forward(meta, tensors, ids):
    """Logits [len(ids), n_vocab] for one causal sequence, float64 throughout."""
    a = ARCH + "."
    n_layer, n_head = meta[a + "block_count"], meta[a + "attention.head_count"]
    n_kv, hd = meta[a + "attention.head_count_kv"], meta[a + "attention.key_length"]
    k_used, eps = meta[a + "expert_used_count"], meta[a + "attention.layer_norm_rms_epsilon"]
    base = meta[a + "rope.freq_base"]
    W = lambda n: tensors[n]["data"].astype(np.float64)  # noqa: E731
    t = len(ids)
    pos = np.arange(t, dtype=np.float64)
    x = W("token_embd.weight")[ids]
    mask = np.triu(np.full((t, t), -np.inf), 1)
    for i in range(n_layer):
        p = f"blk.{i}."
        h = _rms(x, W(p + "attn_norm.weight"), eps)
        q = (h @ W(p + "attn_q.weight").T).reshape(t, n_head, hd)
        k = (h @ W(p + "attn_k.weight").T).reshape(t, n_kv, hd)
        v = (h @ W(p + "attn_v.weight").T).reshape(t, n_kv, hd)
        q = _rope_neox(_rms(q, W(p + "attn_q_norm.weight"), eps), pos, base)
        k = _rope_neox(_rms(k, W(p + "attn_k_norm.weight"), eps), pos, base)
        heads = []
        for hh in range(n_head):
            kv = hh // (n_head // n_kv)
            s = q[:, hh] @ k[:, kv].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(-1, keepdims=True))
            heads.append((s / s.sum(-1, keepdims=True)) @ v[:, kv])
        x = x + np.concatenate(heads, axis=-1) @ W(p + "attn_output.weight").T
        h = _rms(x, W(p + "ffn_norm.weight"), eps)
        logits = h @ W(p + "ffn_gate_inp.weight").T
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        gate, up, down = W(p + "ffn_gate_exps.weight"), W(p + "ffn_up_exps.weight"), \
            W(p + "ffn_down_exps.weight")
        moe = np.zeros_like(x)
        for r in range(t):
            top = np.argsort(-probs[r], kind="stable")[:k_used]
            wts = probs[r, top] / probs[r, top].sum()
            for e, wt in zip(top, wts):
                gg = gate[e] @ h[r]
                moe[r] += wt * (down[e] @ (gg / (1 + np.exp(-gg)) * (up[e] @ h[r])))
        x = x + moe
    x = _rms(x, W("output_norm.weight"), eps)
    return x @ W("output.weight").T


def torch_with_weights(model, tensors):
    """A copy of model whose parameters are the (F16-rounded) GGUF tensors."""
    import copy
    m = copy.deepcopy(model)
    names = [n for n, *_ in tensor_map(model)]
    params = [m.tok_embd]
    for L in m.layers:
        params += [L.attn_norm, L.wq, L.wk, L.wv, L.wo, L.q_norm, L.k_norm, L.ffn_norm,
                   L.router, L.w_gate, L.w_up, L.w_down]
    params += [m.out_norm, m.output]
    with torch.no_grad():
        for n, p in zip(names, params):
            p.copy_(torch.from_numpy(tensors[n]["data"].astype(np.float32)))
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="tools/train/out/ckpt.pt")
    ap.add_argument("--tokenizer", default="tools/train/out/tokenizer.json")
    ap.add_argument("--out", default="models/strata-demo.gguf")
    ap.add_argument("--name", default="strata-demo")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, ck = load_checkpoint(args.ckpt)
    with open(args.tokenizer) as f:
        tk = bpe.Tokenizer(json.load(f)["merges"])
    if tk.vocab_size != model.c.vocab_size:
        raise SystemExit(f"tokenizer has {tk.vocab_size} tokens, model {model.c.vocab_size}")
    w = build_writer(model, tk, args.name)
    w.write(args.out)
    meta, tensors = check_file(args.out, w)
    print(f"wrote {args.out}: {os.path.getsize(args.out)} bytes, {len(w.tensors)} tensors, "
          f"{len(w.kv)} keys; read-back OK (keys, types, offsets, alignment, data)")

    ids = tk.encode("In the beginning God created the heaven and the earth.\nAnd the")[:16]
    ref = numpy_forward(meta, tensors, np.array(ids))
    with torch.no_grad():
        t16 = torch_with_weights(model, tensors)(torch.tensor([ids]))[0][0].double().numpy()
        t32 = model(torch.tensor([ids]))[0][0].double().numpy()
    d16 = np.abs(ref - t16).max()
    d32 = np.abs(ref - t32).max()
    print(f"numpy(GGUF, f64) vs torch(GGUF weights, f32): max |dlogit| {d16:.2e}; vs torch"
          f"(checkpoint f32 weights): {d32:.2e}; logit std {ref.std():.2f}; argmax agree "
          f"{(ref.argmax(-1) == t32.argmax(-1)).mean() * 100:.0f}% over {len(ids)} tokens")
    if d16 > 1e-3 * max(1.0, np.abs(ref).max()):
        raise SystemExit("numpy forward on the GGUF weights disagrees with torch")


if __name__ == "__main__":
    main()
