"""GPT: a decoder-only Transformer for characters, with a KV cache for streaming generation.

Read top to bottom, as in nanoGPT's ``model.py``: attention, MLP, block, then the model.
Pre-norm residual blocks, causal self-attention (fused SDPA kernels on GPUs, plain products
that torch.compile fuses on CPU), learned absolute or rotary position embeddings, and the
output projection tied to the token embedding. ``GPT.step`` generates one token at a time
from a :class:`KVCache` whose window slides by ``slide_stride`` when full.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from engine.models.kv_cache import KVCache
from engine.models.rotary import Rotary


def _eager_fp32(q: torch.Tensor) -> bool:
    """fp32 math outside torch.compile and autocast (the written-out products pay off only
    in bf16 or compiled)."""
    return (
        q.dtype == torch.float32
        and not torch.compiler.is_compiling()
        and not torch.is_autocast_enabled(q.device.type)
    )


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees itself and the past only."""

    def __init__(
        self, n_embd: int, n_head: int, dropout: float, rope: Rotary | None = None
    ) -> None:
        super().__init__()
        if n_embd % n_head != 0:
            raise ValueError(f"n_head ({n_head}) must divide n_embd ({n_embd})")
        self.n_head = n_head
        # Shared by every layer; a plain attribute, so it is not a submodule of each layer.
        self.__dict__["rope"] = rope
        # One matmul for q, k and v; no biases (as in nanoGPT's bias=False: a little faster
        # and no worse).
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=False)
        self.proj = nn.Linear(n_embd, n_embd, bias=False)
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
        if self.rope is not None:
            start = 0 if cache is None else cache[2]
            q, k = self.rope(q, start), self.rope(k, start)
        if cache is None:
            y = self._attend(q, k, v, None)  # (B, nh, T, hs)
        else:
            k_buf, v_buf, start = cache
            k_buf[:, :, start : start + T] = k
            v_buf[:, :, start : start + T] = v
            k_all = k_buf[:, :, : start + T].to(q.dtype)  # (B, nh, start + T, hs)
            v_all = v_buf[:, :, : start + T].to(q.dtype)
            mask = None  # one new query sees every key; or plain causal from position 0
            if T > 1 and start > 0:
                # Query i sits at position start + i and sees keys 0 .. start + i.
                rows = torch.arange(T, device=x.device)[:, None] + start
                mask = torch.arange(start + T, device=x.device)[None, :] <= rows  # (T, S)
            y = self._attend(q, k_all, v_all, mask)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_drop(self.proj(y))

    def forward_with_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """forward() from position 0 without a cache, also returning the attention weights
        (B, nh, T, T): the explicit softmax, for analysis (engine.analysis.attention), never
        for training."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        if self.rope is not None:
            q, k = self.rope(q, 0), self.rope(k, 0)
        att = (q @ k.transpose(-2, -1)).float() * (1.0 / math.sqrt(hs))  # (B, nh, T, T)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = torch.softmax(att.masked_fill(~causal, float("-inf")), dim=-1)
        y = (att.to(v.dtype) @ v).transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_drop(self.proj(y)), att

    def _attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """softmax(q k^T / sqrt(hs)) v over (B, nh, T, hs) queries and (B, nh, S, hs) keys.

        ``mask`` (T, S) says which keys each query sees; None means causal from position 0
        (query i sees keys 0 .. i + S - T), which for T = 1 is every key.
        On CUDA (and MPS) this is ``scaled_dot_product_attention``'s fused kernels. On CPU it
        is written out: for these small heads SDPA's CPU flash kernel is the slowest part of a
        training step, while the plain products run in bf16 on AMX and torch.compile fuses
        the mask and softmax around them (docs/LOG.md, 2026-11-25).

        The attention weights themselves get no dropout (nanoGPT drops them): on CPU a random
        mask over every (T x T) score is costly, and the dropout on the residual branches and
        embeddings remains.
        """
        T, S = q.size(-2), k.size(-2)
        if q.device.type != "cpu" or (mask is None and _eager_fp32(q)):
            # fp32 eager on CPU is the exception: there SDPA's kernel beats the written-out
            # products (docs/LOG.md, 2026-11-30).
            causal = mask is None and T > 1
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))  # (B, nh, T, S)
        if mask is None and T > 1:
            mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)
        if mask is not None:
            att = att.masked_fill(~mask, float("-inf"))
        att = torch.softmax(att.float(), dim=-1).to(v.dtype)
        return att @ v  # (B, nh, T, hs)


class MLP(nn.Module):
    """Position-wise feed-forward: widen 4x, GELU (or ReLU squared), project back.

    ReLU squared (So et al. 2021, "Primer"; the modded-nanogpt speedruns) learns at least as
    fast as GELU in small Transformers and is two cheap element-wise ops instead of an erf.
    """

    def __init__(self, n_embd: int, dropout: float, activation: str = "gelu") -> None:
        super().__init__()
        if activation not in ("gelu", "relu2"):
            raise ValueError(f"unknown activation {activation!r}; expected 'gelu' or 'relu2'")
        self.fc = nn.Linear(n_embd, 4 * n_embd, bias=False)
        self.proj = nn.Linear(4 * n_embd, n_embd, bias=False)
        self.drop = nn.Dropout(dropout)
        self.relu2 = activation == "relu2"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)  # (B, T, 4C)
        h = F.relu(h).square() if self.relu2 else F.gelu(h)
        return self.drop(self.proj(h))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm residual block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        dropout: float,
        rope: Rotary | None = None,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=False)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, rope)
        self.ln_2 = nn.LayerNorm(n_embd, bias=False)
        self.mlp = MLP(n_embd, dropout, activation)

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor, int] | None = None
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)  # (B, T, C)
        return x + self.mlp(self.ln_2(x))  # (B, T, C)


class GPT(nn.Module):
    """A decoder-only Transformer language model.

    Args:
        vocab_size: number of distinct tokens.
        block_size: longest context, in tokens (= the config's seq_length).
        n_layer: Transformer blocks.
        n_head: attention heads; must divide n_embd.
        n_embd: width of the residual stream.
        dropout: dropout on the embeddings and on each residual branch.
        slide_stride: how far the generation window slides when it is full (see
            :meth:`step`); 0 picks max(1, block_size // 4).
        position_encoding: "learned" (absolute embeddings added to the tokens') or "rope"
            (rotary, applied to queries and keys in every layer).
        activation: the MLP's non-linearity, "gelu" or "relu2".
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
        position_encoding: str = "learned",
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.block_size = block_size
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_embd = n_embd
        self.slide_stride = slide_stride or max(1, block_size // 4)
        if position_encoding not in ("learned", "rope"):
            raise ValueError(
                f"unknown position_encoding {position_encoding!r}; expected 'learned' or 'rope'"
            )
        if n_embd % n_head != 0:
            raise ValueError(f"n_head ({n_head}) must divide n_embd ({n_embd})")
        self.wte = nn.Embedding(vocab_size, n_embd)
        # Exactly one of the two position schemes.
        self.wpe = nn.Embedding(block_size, n_embd) if position_encoding == "learned" else None
        self.rotary = Rotary(n_embd // n_head, block_size) if position_encoding == "rope" else None
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(n_embd, n_head, dropout, self.rotary, activation) for _ in range(n_layer)
        )
        self.ln_f = nn.LayerNorm(n_embd, bias=False)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        # Weight tying: the output projection reuses the token embedding (fewer parameters,
        # and input and output share what each character "means").
        self.lm_head.weight = self.wte.weight
        self.activation = activation
        self._decode_weights: list[tuple] | None = None  # see _layer_weights
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
        x = self.wte(idx)  # (B, T, C)
        if self.wpe is not None:
            T = idx.size(1)
            x = x + self.wpe(torch.arange(start, start + T, device=idx.device))  # (T, C)
        return self.drop(x)  # (B, T, C)

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

    @torch.no_grad()
    def forward_with_attention(self, idx: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits (B, T, V) and every layer's attention weights, a list of n_layer tensors
        (B, n_head, T, T) where row i is query i's distribution over keys 0..i.

        The same arithmetic as :meth:`forward` with the softmax written out, for analysis
        (engine.analysis): training keeps the fused path.
        """
        T = idx.size(1)
        if self.block_size < T:
            raise ValueError(f"sequence of {T} tokens is longer than block_size {self.block_size}")
        x = self._embed(idx, 0)  # (B, T, C)
        weights = []
        for block in self.blocks:
            y, att = block.attn.forward_with_weights(block.ln_1(x))
            x = x + y
            x = x + block.mlp(block.ln_2(x))  # (B, T, C)
            weights.append(att)
        return self.lm_head(self.ln_f(x)), weights

    # --- generation ---

    def init_state(self, batch_size: int) -> KVCache | None:
        """No tokens seen yet; buffers are allocated on the first ``step``."""
        return None

    def reorder_state(self, state: KVCache | None, index: torch.Tensor) -> KVCache | None:
        """The state of batch rows ``index`` (beam search keeps its best hypotheses)."""
        return None if state is None else state.select(index)

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

    def _layer_weights(self) -> list[tuple]:
        """Each block's parameters in one tuple, for ``_decode_one``: nested module attribute
        lookups cost more per character than the layer norms they feed. The Parameter objects
        are the model's own, updated in place by training and ``load_state_dict``."""
        if self._decode_weights is None:
            self._decode_weights = [
                (
                    b.ln_1.weight,
                    b.attn.qkv.weight,
                    b.attn.proj.weight,
                    b.ln_2.weight,
                    b.mlp.fc.weight,
                    b.mlp.proj.weight,
                    b.ln_1.eps,
                )
                for b in self.blocks
            ]
        return self._decode_weights

    def _decode_one(self, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """``_extend`` for a single new token (B, 1): the same arithmetic in fewer operations,
        since at this size each costs more to dispatch than to compute (no module calls, no
        mask, one rotation for queries and keys together). It took gpt-cpu's step from 1.76
        to 1.38 ms on a 2-core CPU: KV-cache generation 5.2x faster than recomputing."""
        B, pos = idx.size(0), cache.length
        nh, C = self.n_head, self.n_embd
        scale = 1.0 / math.sqrt(C // nh)
        x = self.wte(idx[:, 0])  # (B, C)
        if self.wpe is not None:
            x = x + self.wpe.weight[pos]
        for layer, k_buf, v_buf in zip(
            self._layer_weights(), cache.keys, cache.values, strict=True
        ):
            ln_1, qkv_w, proj_w, ln_2, fc_w, fc_proj_w, eps = layer
            h = F.layer_norm(x, (C,), ln_1, None, eps)
            qkv = F.linear(h, qkv_w).view(B, 3, nh, C // nh)  # (B, 3, nh, hs)
            qk = qkv[:, :2] if self.rotary is None else self.rotary.at(qkv[:, :2], pos)
            k_buf[:, :, pos] = qk[:, 1]
            v_buf[:, :, pos] = qkv[:, 2]
            q = (qk[:, 0] * scale).unsqueeze(2).to(k_buf.dtype)  # (B, nh, 1, hs)
            att = torch.softmax(q @ k_buf[:, :, : pos + 1].transpose(-1, -2), dim=-1)
            y = (att @ v_buf[:, :, : pos + 1]).view(B, C)  # (B, nh, 1, hs) -> (B, C)
            x = x + F.linear(y, proj_w)
            h = F.linear(F.layer_norm(x, (C,), ln_2, None, eps), fc_w)
            h = F.relu(h).square() if self.activation == "relu2" else F.gelu(h)
            x = x + F.linear(h, fc_proj_w)
        cache.tokens = torch.cat([cache.tokens, idx], dim=1)
        return self.lm_head(self.ln_f(x))  # (B, V)

    def step(self, idx: torch.Tensor, state: KVCache | None) -> tuple[torch.Tensor, KVCache]:
        """Feed new tokens ``idx`` (B, T') after ``state``; last-position logits (B, V).

        While the window has room this is one forward over the new tokens only. When it would
        overflow, the window restarts from the last ``block_size - slide_stride + 1`` tokens
        and the cache is rebuilt over them in one batched forward, leaving room for
        ``slide_stride - 1`` cheap steps before the next rebuild. It cannot simply roll:
        positions count from the window's start, so every key would need a new position (and,
        with rotary embeddings, deeper layers' keys would still carry context that has left
        the window). ``slide_stride = 1`` is nanoGPT's "crop to the last block_size tokens and
        recompute" at every token; the default, block_size // 4, keeps at least 3/4 of the
        block as context (more than a training window gives a position on average) and
        spreads one rebuild over block_size / 4 tokens.
        """
        cache = state if state is not None else self._new_cache(idx, self._cache_dtype(idx))
        if cache.length + idx.size(1) <= self.block_size:
            if idx.size(1) == 1 and cache.length > 0 and not self.training:
                return self._decode_one(idx, cache), cache
            return self._extend(idx, cache), cache
        keep = self.block_size - self.slide_stride + 1
        window = torch.cat([cache.tokens, idx], dim=1)[:, -keep:]  # (B, keep)
        cache.tokens = window[:, :0]
        return self._extend(window, cache), cache
