"""A plain-PyTorch Mixtral (and its dense Mistral twin) with the semantics of transformers'
MixtralForCausalLM / MistralForCausalLM, so that what is trained here is what smoe runs.

  RMSNorm       y = w * (x / sqrt(mean(x^2) + eps)), computed in float32
  RoPE          rotate-half, inv_freq = theta^(-2i/head_dim), cos/sin of cat(freqs, freqs)
  attention     causal, GQA (KV head h // (heads / kv_heads) serves query head h), scale 1/sqrt(head_dim),
                optional sliding window: query i sees key j when i - window < j <= i
  router        softmax over the expert logits (float32) -> top-k -> renormalised to sum 1
  experts       SwiGLU: w2(silu(w1 x) * w3 x), weighted by the router weight
  dense FFN     the same SwiGLU (gate_proj/up_proj/down_proj) as one MLP

Parameter names are the classic Mixtral checkpoint names (model.layers.N.block_sparse_moe.experts.E.w1.weight,
...) and Mistral's (model.layers.N.mlp.gate_proj.weight) so state_dict() is the checkpoint.
"""
import math
from dataclasses import dataclass, asdict, field
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 320
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: Optional[int] = None
    num_local_experts: int = 8       # 0: a dense Mistral
    num_experts_per_tok: int = 2
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    sliding_window: Optional[int] = None
    tie_word_embeddings: bool = True
    router_aux_loss_coef: float = 0.01
    max_position_embeddings: int = 4096
    bos_token_id: int = 1
    eos_token_id: int = 2
    initializer_range: float = 0.02

    @property
    def dense(self):
        return self.num_local_experts == 0

    @property
    def dim_head(self):
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @classmethod
    def from_hf(cls, d):
        """From a HF config.json dict (transformers 4.x rope_theta or 5.x rope_parameters)."""
        rope = d.get('rope_parameters') or {}
        theta = rope.get('rope_theta', d.get('rope_theta', 10000.0))
        return cls(vocab_size=d['vocab_size'], hidden_size=d['hidden_size'], intermediate_size=d['intermediate_size'],
                   num_hidden_layers=d['num_hidden_layers'], num_attention_heads=d['num_attention_heads'],
                   num_key_value_heads=d.get('num_key_value_heads') or d['num_attention_heads'], head_dim=d.get('head_dim'),
                   num_local_experts=d.get('num_local_experts', 0), num_experts_per_tok=d.get('num_experts_per_tok', 0),
                   rope_theta=float(theta), rms_norm_eps=d.get('rms_norm_eps', 1e-5), sliding_window=d.get('sliding_window'),
                   tie_word_embeddings=d.get('tie_word_embeddings', False),
                   router_aux_loss_coef=d.get('router_aux_loss_coef', 0.0),
                   max_position_embeddings=d.get('max_position_embeddings', 4096),
                   bos_token_id=d.get('bos_token_id', 1), eos_token_id=d.get('eos_token_id', 2),
                   initializer_range=d.get('initializer_range', 0.02))


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rope_cos_sin(positions, head_dim, theta):
    """cos, sin: [T, head_dim] for rotate-half RoPE (float32)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def causal_mask(T, sliding_window, device):
    """Additive mask [T, T]: 0 where query i may see key j (j <= i, and i - j < window), -inf elsewhere."""
    i = torch.arange(T, device=device)[:, None]
    j = torch.arange(T, device=device)[None, :]
    allowed = j <= i
    if sliding_window is not None:
        allowed = allowed & (i - j < sliding_window)
    return torch.zeros(T, T, device=device).masked_fill(~allowed, float('-inf'))


class Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.h, self.kv, self.d = c.num_attention_heads, c.num_key_value_heads, c.dim_head
        self.q_proj = nn.Linear(c.hidden_size, self.h * self.d, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, self.kv * self.d, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, self.kv * self.d, bias=False)
        self.o_proj = nn.Linear(self.h * self.d, c.hidden_size, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.h, self.d).transpose(1, 2)    # [B, H, T, d]
        k = self.k_proj(x).view(B, T, self.kv, self.d).transpose(1, 2)   # [B, KV, T, d]
        v = self.v_proj(x).view(B, T, self.kv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.h // self.kv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.d)) + mask
        att = torch.softmax(att.float(), dim=-1).to(q.dtype)
        y = torch.matmul(att, v).transpose(1, 2).reshape(B, T, self.h * self.d)
        return self.o_proj(y)


class Expert(nn.Module):
    """One Mixtral expert: w2(silu(w1 x) * w3 x)."""
    def __init__(self, dim, inter):
        super().__init__()
        self.w1 = nn.Linear(dim, inter, bias=False)
        self.w2 = nn.Linear(inter, dim, bias=False)
        self.w3 = nn.Linear(dim, inter, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class SparseMoe(nn.Module):
    """Mixtral's block_sparse_moe: router softmax -> top-k -> renormalise; each expert runs on its tokens."""
    def __init__(self, c: Config):
        super().__init__()
        self.k = c.num_experts_per_tok
        self.gate = nn.Linear(c.hidden_size, c.num_local_experts, bias=False)
        self.experts = nn.ModuleList(Expert(c.hidden_size, c.intermediate_size) for _ in range(c.num_local_experts))

    def forward(self, x):
        B, T, D = x.shape
        flat = x.reshape(-1, D)
        router_logits = self.gate(flat)                                   # [N, E]
        probs = torch.softmax(router_logits, dim=-1, dtype=torch.float)
        weights, chosen = torch.topk(probs, self.k, dim=-1)               # [N, k], descending
        weights = (weights / weights.sum(dim=-1, keepdim=True)).to(x.dtype)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            tok, slot = torch.where(chosen == e)
            if tok.numel() == 0:
                continue
            y = expert(flat[tok]) * weights[tok, slot, None]
            out.index_add_(0, tok, y)
        return out.view(B, T, D), router_logits, chosen


class MLP(nn.Module):
    """Mistral's dense SwiGLU MLP."""
    def __init__(self, c: Config):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        if c.dense:
            self.mlp = MLP(c)
        else:
            self.block_sparse_moe = SparseMoe(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        h = self.post_attention_layernorm(x)
        if hasattr(self, 'mlp'):
            return x + self.mlp(h), None, None
        y, router_logits, chosen = self.block_sparse_moe(h)
        return x + y, router_logits, chosen


class Body(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class CausalLM(nn.Module):
    """MixtralForCausalLM (num_local_experts > 0) or MistralForCausalLM (num_local_experts == 0)."""
    def __init__(self, c: Config):
        super().__init__()
        self.config = c
        self.model = Body(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.apply(self._init)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def _init(self, m):
        std = self.config.initializer_range
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=std)

    def forward(self, input_ids):
        """Returns (logits [B, T, V], router_logits per layer [N, E] or [], chosen experts per layer [N, k] or [])."""
        c = self.config
        B, T = input_ids.shape
        x = self.model.embed_tokens(input_ids)
        cos, sin = rope_cos_sin(torch.arange(T, device=input_ids.device), c.dim_head, c.rope_theta)
        mask = causal_mask(T, c.sliding_window, input_ids.device)
        routers, chosen = [], []
        for layer in self.model.layers:
            x, r, ch = layer(x, cos, sin, mask)
            if r is not None:
                routers.append(r)
                chosen.append(ch)
        return self.lm_head(self.model.norm(x)), routers, chosen


def load_balancing_loss(router_logits, num_experts, top_k):
    """transformers' load_balancing_loss_func (no attention mask): E * sum_e f_e * P_e over all layers' tokens,
    f_e the share of (token, slot) assignments per slot, P_e the mean router probability."""
    logits = torch.cat(router_logits, dim=0)
    probs = torch.softmax(logits, dim=-1, dtype=torch.float)
    _, selected = torch.topk(probs, top_k, dim=-1)
    mask = F.one_hot(selected, num_experts).float()          # [N, k, E]
    tokens_per_expert = mask.mean(dim=0)                     # [k, E]
    prob_per_expert = probs.mean(dim=0)                      # [E]
    return (tokens_per_expert * prob_per_expert[None, :]).sum() * num_experts


def hf_config(c: Config, dtype='bfloat16'):
    """config.json for transformers (4.x and 5.x) and smoe."""
    d = {
        'architectures': ['MistralForCausalLM' if c.dense else 'MixtralForCausalLM'],
        'model_type': 'mistral' if c.dense else 'mixtral',
        'attention_dropout': 0.0, 'bos_token_id': c.bos_token_id, 'eos_token_id': c.eos_token_id,
        'head_dim': c.dim_head, 'hidden_act': 'silu', 'hidden_size': c.hidden_size,
        'initializer_range': c.initializer_range, 'intermediate_size': c.intermediate_size,
        'max_position_embeddings': c.max_position_embeddings, 'num_attention_heads': c.num_attention_heads,
        'num_hidden_layers': c.num_hidden_layers, 'num_key_value_heads': c.num_key_value_heads,
        'rms_norm_eps': c.rms_norm_eps, 'rope_theta': c.rope_theta,
        'rope_parameters': {'rope_theta': c.rope_theta, 'rope_type': 'default'},
        'sliding_window': c.sliding_window, 'tie_word_embeddings': c.tie_word_embeddings,
        'dtype': dtype, 'torch_dtype': dtype, 'use_cache': True, 'vocab_size': c.vocab_size,
    }
    if not c.dense:
        d.update({'num_local_experts': c.num_local_experts, 'num_experts_per_tok': c.num_experts_per_tok,
                  'output_router_logits': False, 'router_aux_loss_coef': c.router_aux_loss_coef,
                  'router_jitter_noise': 0.0})
    return dict(sorted(d.items()))
