"""Rotary position embeddings for the GPT's attention (queries and keys, never values)."""

from __future__ import annotations

import torch
from torch import nn


class Rotary(nn.Module):
    """Rotary position embedding (Su et al. 2021, RoFormer), as in GPT-NeoX and Llama.

    Each head's dimensions are split in two halves that form (x1, x2) pairs; the pair at
    frequency ``i`` is rotated by the angle ``position * base**(-2i/head_size)``. The dot
    product of a rotated query and a rotated key then depends on their positions only through
    the offset between them.
    """

    def __init__(self, head_size: int, block_size: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_size % 2:
            raise ValueError(f"rotary embeddings need an even head size; got {head_size}")
        inv_freq = base ** (-torch.arange(0, head_size, 2).float() / head_size)  # (hs/2,)
        angles = torch.outer(torch.arange(block_size).float(), inv_freq)  # (block, hs/2)
        # Not saved in checkpoints: a pure function of the shape.
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)
        # The same rotation for one position in four ops (generation's hot loop): with
        # halves swapped, x' = x * [cos, cos] + swap(x) * [-sin, sin].
        self.register_buffer("cos2", torch.cat((angles.cos(),) * 2, dim=-1), persistent=False)
        self.register_buffer(
            "sin2", torch.cat((-angles.sin(), angles.sin()), dim=-1), persistent=False
        )

    def forward(self, x: torch.Tensor, start: int) -> torch.Tensor:
        """Rotate ``x`` (B, nh, T, hs) whose first position is ``start``."""
        T, half = x.size(2), x.size(3) // 2
        cos = self.cos[start : start + T].to(x.dtype)  # (T, hs/2)
        sin = self.sin[start : start + T].to(x.dtype)
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)  # (B, nh, T, hs)

    def at(self, x: torch.Tensor, position: int) -> torch.Tensor:
        """Rotate ``x`` (..., hs), every row at the same ``position``: forward() for T = 1."""
        swapped = x.unflatten(-1, (2, -1)).flip(-2).flatten(-2)  # (x2, x1)
        cos, sin = self.cos2[position], self.sin2[position]  # (hs,)
        if cos.dtype != x.dtype:  # (a no-op .to still costs a dispatch per layer and token)
            cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        return x * cos + swapped * sin
