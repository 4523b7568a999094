"""A qwen3moe-layout transformer in PyTorch, written to match llama.cpp's qwen3moe graph.

Per layer: x += Wo · attn(rope(qnorm(Wq·rmsnorm(x))), rope(knorm(Wk·…)), Wv·…)  and
x += Σ_top-k w_e · down_e(silu(gate_e(h)) * up_e(h)), h = rmsnorm(x), with softmax router
probabilities, top-k selection and the k weights renormalised to sum to 1. RoPE is the NeoX
(rotate-half) form, so no Q/K permutation is needed on export. Heads share KV heads in groups
(q head h reads kv head h // (n_head / n_head_kv)), as in llama.cpp.

Why the convolutions: Debian's torch 1.13 links the reference (netlib) BLAS, ~3 GFLOP/s on one
thread, while its bundled oneDNN reaches 20-40 GFLOP/s. oneDNN is only reached through conv2d,
and only when torch's single-thread heuristic picks it (batch >= 16, or a non-unit stride or
dilation), so the matrix products below are 1x1 convolutions on a 1x1 (or Tx1) image: plain
matmuls, several times faster to train here. A dilation on a 1x1 kernel changes nothing
numerically; it is only there to pass that heuristic where the batch is small.
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int = 2048
    n_ctx: int = 256
    n_embd: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_head_kv: int = 2
    head_dim: int = 64
    n_expert: int = 8
    n_expert_used: int = 2
    n_ff_exp: int = 256
    rope_base: float = 10000.0
    rms_eps: float = 1e-6

    def to_dict(self):
        return asdict(self)


_DILATE = (1, 2)  # no-op on a 1x1 kernel; routes small-batch conv2d to oneDNN (see above)


def linear(x, w):
    """x [..., k] times w[n, k]^T -> [..., n]."""
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])
    dil = (1, 1) if x2.shape[0] >= 16 else _DILATE  # stride/dilation paths are slower, see above
    y = F.conv2d(x2[:, :, None, None], w[:, :, None, None], dilation=dil)
    return y.view(*shape[:-1], w.shape[0])


def batched_qk(q, k):
    """q [g, t, d], k [g, s, d] -> [g, t, s] as a grouped 1x1 convolution (groups = g)."""
    g, t, d = q.shape
    s = k.shape[1]
    inp = q.permute(0, 2, 1).reshape(1, g * d, t, 1)
    out = F.conv2d(inp, k.reshape(g * s, d, 1, 1), dilation=_DILATE, groups=g)
    return out.view(g, s, t).transpose(1, 2)


def batched_pv(p, v):
    """p [g, t, s], v [g, s, d] -> [g, t, d]."""
    g, t, s = p.shape
    d = v.shape[2]
    inp = p.permute(0, 2, 1).reshape(1, g * s, t, 1)
    out = F.conv2d(inp, v.transpose(1, 2).reshape(g * d, s, 1, 1), dilation=_DILATE, groups=g)
    return out.view(g, d, t).transpose(1, 2)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(n_ctx, head_dim, base):
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(n_ctx, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    """NeoX rotation: pairs (i, i + d/2). x [..., t, d]; cos/sin [t, d/2]."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Layer(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        qd, kvd = c.n_head * c.head_dim, c.n_head_kv * c.head_dim
        self.attn_norm = nn.Parameter(torch.ones(c.n_embd))
        self.wq = nn.Parameter(torch.empty(qd, c.n_embd))
        self.wk = nn.Parameter(torch.empty(kvd, c.n_embd))
        self.wv = nn.Parameter(torch.empty(kvd, c.n_embd))
        self.wo = nn.Parameter(torch.empty(c.n_embd, qd))
        self.q_norm = nn.Parameter(torch.ones(c.head_dim))
        self.k_norm = nn.Parameter(torch.ones(c.head_dim))
        self.ffn_norm = nn.Parameter(torch.ones(c.n_embd))
        self.router = nn.Parameter(torch.empty(c.n_expert, c.n_embd))
        self.w_gate = nn.Parameter(torch.empty(c.n_expert, c.n_ff_exp, c.n_embd))
        self.w_up = nn.Parameter(torch.empty(c.n_expert, c.n_ff_exp, c.n_embd))
        self.w_down = nn.Parameter(torch.empty(c.n_expert, c.n_embd, c.n_ff_exp))

    def attention(self, x, cos, sin, mask):
        c = self.c
        b, t, _ = x.shape
        h = rms_norm(x, self.attn_norm, c.rms_eps)
        q = linear(h, self.wq).view(b, t, c.n_head, c.head_dim)
        k = linear(h, self.wk).view(b, t, c.n_head_kv, c.head_dim)
        v = linear(h, self.wv).view(b, t, c.n_head_kv, c.head_dim)
        q = apply_rope(rms_norm(q, self.q_norm, c.rms_eps).transpose(1, 2), cos, sin)
        k = apply_rope(rms_norm(k, self.k_norm, c.rms_eps).transpose(1, 2), cos, sin)
        v = v.transpose(1, 2)
        group = c.n_head // c.n_head_kv
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        g = b * c.n_head
        scores = batched_qk(q.reshape(g, t, c.head_dim), k.reshape(g, t, c.head_dim))
        scores = scores * (1.0 / math.sqrt(c.head_dim)) + mask
        p = torch.softmax(scores, dim=-1)
        o = batched_pv(p, v.reshape(g, t, c.head_dim))
        o = o.view(b, c.n_head, t, c.head_dim).transpose(1, 2).reshape(b, t, -1)
        return linear(o, self.wo)

    def moe(self, x, stats=None):
        """Returns (output, aux_loss). stats, if a list, receives (top-k expert ids [N, k], their
        renormalised weights [N, k], full router probabilities [N, n_expert])."""
        c = self.c
        shape = x.shape
        h = rms_norm(x, self.ffn_norm, c.rms_eps).reshape(-1, shape[-1])
        probs = torch.softmax(linear(h, self.router), dim=-1)
        top_w, top_i = probs.topk(c.n_expert_used, dim=-1)
        top_w = top_w / top_w.sum(-1, keepdim=True)
        if stats is not None:
            stats.append((top_i.detach(), top_w.detach(), probs.detach()))
        out = torch.zeros_like(h)
        for e in range(c.n_expert):
            tok, slot = (top_i == e).nonzero(as_tuple=True)
            if tok.numel() == 0:
                continue
            he = h[tok]
            a = F.silu(linear(he, self.w_gate[e])) * linear(he, self.w_up[e])
            y = linear(a, self.w_down[e]) * top_w[tok, slot].unsqueeze(-1)
            out = out.index_add(0, tok, y)
        # Switch-style balance loss: n_expert * sum_e (share of routed slots to e) * (mean prob of e)
        share = torch.bincount(top_i.reshape(-1), minlength=c.n_expert).float() / top_i.numel()
        aux = c.n_expert * (share * probs.mean(0)).sum()
        return out.view(shape), aux

    def forward(self, x, cos, sin, mask, stats=None):
        x = x + self.attention(x, cos, sin, mask)
        m, aux = self.moe(x, stats)
        return x + m, aux


class Model(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.tok_embd = nn.Parameter(torch.empty(c.vocab_size, c.n_embd))
        self.layers = nn.ModuleList([Layer(c) for _ in range(c.n_layer)])
        self.out_norm = nn.Parameter(torch.ones(c.n_embd))
        self.output = nn.Parameter(torch.empty(c.vocab_size, c.n_embd))
        cos, sin = rope_tables(c.n_ctx, c.head_dim, c.rope_base)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def init_weights(self, generator):
        std = 0.02
        resid_std = std / math.sqrt(2 * self.c.n_layer)
        for name, p in self.named_parameters():
            if p.dim() == 1:
                continue
            s = resid_std if name.endswith(("wo", "w_down")) else std
            with torch.no_grad():
                p.normal_(0.0, s, generator=generator)

    def forward(self, ids, stats=None):
        """ids [b, t] (t <= n_ctx) -> (logits [b, t, vocab], summed aux loss)."""
        b, t = ids.shape
        x = self.tok_embd[ids]
        mask = torch.full((t, t), float("-inf")).triu(1)
        cos, sin = self.cos[:t], self.sin[:t]
        aux = x.new_zeros(())
        for layer in self.layers:
            x, a = layer(x, cos, sin, mask, stats)
            aux = aux + a
        x = rms_norm(x, self.out_norm, self.c.rms_eps)
        return linear(x, self.output), aux / self.c.n_layer


def load_checkpoint(path):
    """Loads a checkpoint written by train.py: returns (model in eval mode, checkpoint dict)."""
    ck = torch.load(path, map_location="cpu")
    m = Model(Config(**ck["config"]))
    m.load_state_dict(ck["model"])
    m.eval()
    return m, ck
