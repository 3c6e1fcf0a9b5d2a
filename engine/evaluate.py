"""Loss over a whole split in non-overlapping windows: loss, perplexity and bits per character."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from engine.data import eval_windows
from engine.device import autocast


@dataclass(frozen=True)
class Metrics:
    """Mean cross-entropy in nats per token, and what it means for a char model."""

    loss: float
    windows: int
    tokens: int

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700.0))

    @property
    def bits_per_char(self) -> float:
        # One token is one character for the char tokenizer.
        return self.loss / math.log(2)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    tokens: torch.Tensor,
    seq_length: int,
    *,
    max_windows: int = 0,
    batch_size: int = 128,
    dtype: torch.dtype = torch.float32,
) -> Metrics:
    """Mean loss of ``model`` over ``tokens`` cut into non-overlapping windows of seq_length.

    Every window starts from an empty context (no state carried between windows), as in
    nanoGPT's evaluation. The model is put in eval mode and restored afterwards.
    """
    device = next(model.parameters()).device
    inputs, targets = eval_windows(tokens, seq_length, max_windows)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for start in range(0, len(inputs), batch_size):
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
    return Metrics(loss=total / max(count, 1), windows=len(inputs), tokens=count)
