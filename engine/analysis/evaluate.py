"""Loss over a whole split in non-overlapping windows: loss, perplexity and bits per character."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from engine.runtime import distributed as dist
from engine.runtime.device import autocast
from engine.text.corpus import eval_windows


@dataclass(frozen=True)
class Metrics:
    """Mean cross-entropy in nats per token, and bits per character of the text scored.

    ``chars`` is the number of characters the scored target tokens spell (0 = one per
    token, the char tokenizer). Bits per character is the *total* loss in bits over those
    characters, so a BPE model (several characters per token) and a char model that give the
    same text the same probability report the same figure.
    """

    loss: float
    windows: int
    tokens: int
    chars: int = 0

    @property
    def perplexity(self) -> float:
        """Per token: not comparable across tokenizers (bits_per_char is)."""
        return math.exp(min(self.loss, 700.0))

    @property
    def bits_per_char(self) -> float:
        chars = self.chars or self.tokens
        return self.loss * self.tokens / max(chars, 1) / math.log(2)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    tokens: torch.Tensor,
    seq_length: int,
    *,
    max_windows: int = 0,
    batch_size: int = 128,
    dtype: torch.dtype = torch.float32,
    char_lengths: torch.Tensor | Sequence[int] | None = None,
    shard: tuple[int, int] = (0, 1),
    between_batches: Callable[[], None] | None = None,
) -> Metrics:
    """Mean loss of ``model`` over ``tokens`` cut into non-overlapping windows of seq_length.

    Every window starts from an empty context (no state carried between windows), as in
    nanoGPT's evaluation. The model is put in eval mode and restored afterwards.

    Args:
        char_lengths: characters each token id spells (``tokenizer.char_lengths()``), so
            bits per character counts exactly the characters scored; None means one
            character per token (the char tokenizer).
        shard: (rank, world size): score only this rank's share of the windows.
        between_batches: called before every batch after the first; the trainer applies a
            pause or stop there, so a long evaluation does not hold them up.
    """
    device = next(model.parameters()).device
    inputs, targets = eval_windows(tokens, seq_length, max_windows)
    rank, world = shard  # data-parallel ranks each score every world-th window
    inputs, targets = inputs[rank::world], targets[rank::world]
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    chars = 0
    if char_lengths is not None:
        lengths = torch.as_tensor(char_lengths, dtype=torch.long)
        chars = int(lengths[targets.cpu()].sum())
    try:
        for start in range(0, len(inputs), batch_size):
            if start and between_batches is not None:
                between_batches()
            x = inputs[start : start + batch_size].to(device)
            y = targets[start : start + batch_size].to(device)
            with autocast(device, dtype):
                logits, _ = model(x)
            loss = F.cross_entropy(
                logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum"
            )
            total += float(loss)
            count += y.numel()
    finally:
        model.train(was_training)
    return Metrics(loss=total / max(count, 1), windows=len(inputs), tokens=count, chars=chars)


def evaluate_sharded(
    model: nn.Module,
    tokens: torch.Tensor,
    seq_length: int,
    max_windows: int,
    *,
    dtype: torch.dtype,
    char_lengths: torch.Tensor | None,
    info: dist.DistInfo,
    device: torch.device,
    between_batches: Callable[[], None] | None = None,
) -> Metrics:
    """:func:`evaluate` where each data-parallel rank scores a share and the sums are shared,
    so every rank gets the same metrics (plain :func:`evaluate` when alone)."""
    local = evaluate(
        model, tokens, seq_length, max_windows=max_windows, dtype=dtype,
        char_lengths=char_lengths, shard=(info.rank, info.world_size),
        between_batches=between_batches,
    )  # fmt: skip
    if not info.enabled:
        return local
    nats, count, chars, windows = dist.all_reduce_sum(
        [local.loss * local.tokens, local.tokens, local.chars, local.windows], info, device
    )
    return Metrics(nats / max(count, 1), windows=int(windows), tokens=int(count), chars=int(chars))
