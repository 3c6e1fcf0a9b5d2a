"""GPT attention: each layer's and head's weights over a text, and what each head mostly does.

``attention_maps`` runs one window (at most block_size tokens) through
``GPT.forward_with_attention``. ``summarise_heads`` measures, on a text, how much of each
head's attention lands on keys that fit a simple pattern (the previous character, the
query itself, the start of the line, the last newline, an earlier copy of the query's
character, the character after an earlier copy: an induction head) and names the pattern
that takes most of it. Works the same for rotary and learned positions: only the weights
are read.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.analysis import AnalysisError
from engine.text.tokenizer import Tokenizer

# A head is named after a pattern when the pattern gets at least this share of its attention.
NAMED_SHARE = 0.4


@dataclass(frozen=True)
class AttentionMaps:
    """``weights`` (n_layer, n_head, T, T) over the tokens ``pieces``."""

    pieces: list[str]
    weights: torch.Tensor

    @property
    def n_layer(self) -> int:
        return self.weights.size(0)

    @property
    def n_head(self) -> int:
        return self.weights.size(1)


@torch.no_grad()
def attention_maps(model: nn.Module, tokenizer: Tokenizer, text: str) -> AttentionMaps:
    """Attention weights of a GPT over the last block_size tokens of ``text``."""
    if not hasattr(model, "forward_with_attention"):
        raise AnalysisError("Attention is a GPT view: this model has no attention.")
    missing = tokenizer.unknown(text)
    if missing:
        raise AnalysisError(f"The text has characters this model never saw ({missing[0]!r}).")
    ids = tokenizer.encode(text)[-model.block_size :]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        _, weights = model.forward_with_attention(torch.tensor([ids], device=device))
    finally:
        model.train(was_training)
    stacked = torch.stack([w[0] for w in weights]).float().cpu()  # (L, H, T, T)
    return AttentionMaps([tokenizer.decode([i]) for i in ids], stacked)


def pattern_masks(pieces: list[str]) -> dict[str, torch.Tensor]:
    """For each pattern, a (T, T) bool mask: key j fits the pattern for query i (j <= i)."""
    T = len(pieces)
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    causal = j <= i
    same = torch.tensor([[a == b for b in pieces] for a in pieces])  # (T, T)
    newline = torch.tensor([p == "\n" for p in pieces])
    last_newline = torch.full((T,), -1)
    seen = -1
    for t, is_nl in enumerate(newline.tolist()):
        if is_nl:
            seen = t
        last_newline[t] = seen
    line_start = torch.where(last_newline >= 0, last_newline + 1, 0).clamp(max=T - 1)
    # The key after an earlier copy of the query's token: j - 1 < i with piece[j-1] == piece[i].
    after_copy = torch.zeros(T, T, dtype=torch.bool)
    after_copy[:, 1:] = same[:, :-1]
    return {
        "previous character": j == i - 1,
        "itself": j == i,
        "start of line": (j == line_start[:, None]) & causal,
        "last newline": (j == last_newline[:, None]) & (last_newline[:, None] >= 0),
        "same character earlier": same & (j < i),
        "after an earlier copy": after_copy & (j < i),
        "first position": (j == 0) & (i > 0),
    }


@dataclass(frozen=True)
class HeadSummary:
    """What one head mostly does: its best pattern and the share of attention it gets."""

    layer: int
    head: int
    name: str
    share: float
    shares: dict[str, float]


def summarise_heads(maps: AttentionMaps, min_share: float = NAMED_SHARE) -> list[HeadSummary]:
    """Every head's mean attention share per pattern, over the queries where the pattern
    has a key; the head is named after the pattern with the largest share, or "spread out"
    when none reaches ``min_share``."""
    masks = pattern_masks(maps.pieces)
    out = []
    for layer in range(maps.n_layer):
        for head in range(maps.n_head):
            att = maps.weights[layer, head]  # (T, T)
            shares = {}
            for name, mask in masks.items():
                rows = mask.any(dim=1)
                rows[0] = False  # the first query can only attend to itself
                if rows.any():
                    shares[name] = float((att * mask).sum(dim=1)[rows].mean())
            best = max(shares, key=lambda n: shares[n]) if shares else ""
            share = shares.get(best, 0.0)
            named = best if share >= min_share else "spread out"
            out.append(HeadSummary(layer, head, named, share, shares))
    return out
