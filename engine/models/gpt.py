"""GPT: a decoder-only Transformer for characters, with a KV cache for streaming generation.

Read top to bottom, as in nanoGPT's ``model.py``: attention, MLP, block, then the model.
Pre-norm residual blocks, causal self-attention through ``F.scaled_dot_product_attention``
(flash/memory-efficient kernels on CPU and CUDA), learned absolute position embeddings,
and the output projection tied to the token embedding.

**Generation state.** ``step()`` keeps, per layer, the keys and values of every token in the
current context window (:class:`KVCache`), so a new character costs one forward pass over one
token. Positions are absolute (0 .. block_size-1 within the window), so when the window is
full it cannot simply roll: every key would need a new position. Instead the cache is
rebuilt from the most recent ``block_size - slide_stride + 1`` tokens (one batched forward),
leaving room for ``slide_stride - 1`` cheap steps before the next rebuild. With
``slide_stride = 1`` this is exactly nanoGPT's "crop the context to the last block_size
tokens and recompute" at every character. The default, block_size // 4, keeps at least 3/4
of the block as context (more than the block_size / 2 a training window gives a position on
average) and spreads one rebuild over block_size / 4 characters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees itself and the past only."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        if n_embd % n_head != 0:
            raise ValueError(f"n_head ({n_head}) must divide n_embd ({n_embd})")
        self.n_head = n_head
        # One matmul for q, k and v; no biases (as in nanoGPT's bias=False: a little faster
        # and no worse).
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=False)
        self.proj = nn.Linear(n_embd, n_embd, bias=False)
        self.dropout = dropout
        self.resid_drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor, int] | None = None
    ) -> torch.Tensor:
        """Attend over ``x`` (B, T, C); with ``cache`` = (k_buf, v_buf, start), also over the
        ``start`` cached positions, writing this call's keys and values after them."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        if x.device.type == "cpu" and q.dtype == torch.bfloat16:
            # On CPU, SDPA's bf16 kernels are no faster than fp32 and up to 3x slower
            # (torch 2.13, one thread, fwd+bwd per layer of a 32x128 batch: 51 vs 16 ms at
            # head size 32; 87 vs 84 ms at T=256, head size 64): attention runs in fp32,
            # the matrix products around it stay in bf16 (AMX makes those ~8x fp32's speed).
            q, k, v = q.float(), k.float(), v.float()
        if cache is None:
            y = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True
            )  # (B, nh, T, hs)
        else:
            k_buf, v_buf, start = cache
            k_buf[:, :, start : start + T] = k
            v_buf[:, :, start : start + T] = v
            k_all = k_buf[:, :, : start + T]  # (B, nh, start + T, hs)
            v_all = v_buf[:, :, : start + T]
            if T == 1 or start == 0:
                mask = None  # one new query sees every key; or plain causal from position 0
            else:
                # Query i sits at position start + i and sees keys 0 .. start + i.
                rows = torch.arange(T, device=x.device)[:, None] + start
                mask = torch.arange(start + T, device=x.device)[None, :] <= rows  # (T, S)
            y = F.scaled_dot_product_attention(
                q,
                k_all.to(q.dtype),
                v_all.to(q.dtype),
                attn_mask=mask,
                is_causal=mask is None and T > 1,
            )  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward: widen 4x, GELU, project back."""

    def __init__(self, n_embd: int, dropout: float) -> None:
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd, bias=False)
        self.proj = nn.Linear(4 * n_embd, n_embd, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm residual block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=False)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = nn.LayerNorm(n_embd, bias=False)
        self.mlp = MLP(n_embd, dropout)

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor, int] | None = None
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)  # (B, T, C)
        return x + self.mlp(self.ln_2(x))  # (B, T, C)


@dataclass
class KVCache:
    """Generation state: the tokens of the current window and their keys/values per layer.

    ``keys[i]``/``values[i]`` are preallocated (B, n_head, block_size, head_size) buffers of
    which the first ``length`` positions are filled; ``tokens`` (B, length) are the window's
    token ids, kept so the cache can be rebuilt when the window slides.
    """

    tokens: torch.Tensor
    keys: list[torch.Tensor]
    values: list[torch.Tensor]

    @property
    def length(self) -> int:
        return self.tokens.size(1)


class GPT(nn.Module):
    """A decoder-only Transformer language model.

    Args:
        vocab_size: number of distinct tokens.
        block_size: longest context, in tokens (= the config's seq_length).
        n_layer: Transformer blocks.
        n_head: attention heads; must divide n_embd.
        n_embd: width of the residual stream.
        dropout: dropout on embeddings, attention weights and residual branches.
        slide_stride: how far the generation window slides when it is full (see the module
            docstring); 0 picks max(1, block_size // 4).
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int = 64,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 128,
        dropout: float = 0.0,
        slide_stride: int = 0,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.block_size = block_size
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_embd = n_embd
        self.slide_stride = slide_stride or max(1, block_size // 4)
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd, bias=False)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        # Weight tying: the output projection reuses the token embedding (fewer parameters,
        # and input and output share what each character "means").
        self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        # GPT-2's scaled init of the projections that write into the residual stream, so its
        # variance does not grow with depth.
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def _embed(self, idx: torch.Tensor, start: int) -> torch.Tensor:
        T = idx.size(1)
        pos = torch.arange(start, start + T, device=idx.device)  # (T,)
        return self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for every position (B, T, V), and the mean cross-entropy given targets."""
        T = idx.size(1)
        if self.block_size < T:
            raise ValueError(f"sequence of {T} tokens is longer than block_size {self.block_size}")
        x = self._embed(idx, 0)  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1))
        return logits, loss

    # --- generation ---

    def init_state(self, batch_size: int) -> KVCache | None:
        """No tokens seen yet; buffers are allocated on the first ``step``."""
        return None

    def _new_cache(self, tokens: torch.Tensor, dtype: torch.dtype) -> KVCache:
        B = tokens.size(0)
        shape = (B, self.n_head, self.block_size, self.n_embd // self.n_head)
        dev = tokens.device
        return KVCache(
            tokens=tokens[:, :0],
            keys=[torch.empty(shape, device=dev, dtype=dtype) for _ in range(self.n_layer)],
            values=[torch.empty(shape, device=dev, dtype=dtype) for _ in range(self.n_layer)],
        )

    def _cache_dtype(self, idx: torch.Tensor) -> torch.dtype:
        # Keys/values are stored in the dtype attention runs in: autocast's on CUDA, the
        # parameters' on CPU (where attention runs in fp32, see CausalSelfAttention).
        kind = idx.device.type
        if kind != "cpu" and torch.is_autocast_enabled(kind):
            return torch.get_autocast_dtype(kind)
        return self.wte.weight.dtype

    def _extend(self, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Run ``idx`` (B, T') after the cached tokens; fills the cache; last logits (B, V)."""
        start = cache.length
        x = self._embed(idx, start)  # (B, T', C)
        for block, k_buf, v_buf in zip(self.blocks, cache.keys, cache.values, strict=True):
            x = block(x, (k_buf, v_buf, start))
        cache.tokens = torch.cat([cache.tokens, idx], dim=1)
        return self.lm_head(self.ln_f(x[:, -1, :]))  # (B, V)

    def step(self, idx: torch.Tensor, state: KVCache | None) -> tuple[torch.Tensor, KVCache]:
        """Feed new tokens ``idx`` (B, T') after ``state``; last-position logits (B, V).

        While the window has room this is one forward over the new tokens only. When it would
        overflow, the window restarts from the last ``block_size - slide_stride + 1`` tokens
        and the cache is rebuilt over them in one batched forward.
        """
        cache = state if state is not None else self._new_cache(idx, self._cache_dtype(idx))
        if cache.length + idx.size(1) <= self.block_size:
            return self._extend(idx, cache), cache
        keep = self.block_size - self.slide_stride + 1
        window = torch.cat([cache.tokens, idx], dim=1)[:, -keep:]  # (B, keep)
        cache.tokens = window[:, :0]
        return self._extend(window, cache), cache
