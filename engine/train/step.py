"""One optimizer step over a rank's slice of the global batch."""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from engine.config.schema import RunConfig
from engine.runtime import distributed as dist
from engine.runtime.device import autocast
from engine.text.corpus import EpochBatches
from engine.train.setup import ModelState


def train_step(
    model: nn.Module,
    parts: ModelState,
    batches: EpochBatches,
    cfg: RunConfig,
    step: int,
    lr: float,
    dist_info: dist.DistInfo,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[float, float]:
    """Accumulate ``grad_accum_steps`` micro-batches, clip, step at ``lr``.

    Returns the loss averaged over ranks and the gradient norm before clipping. A
    non-finite loss skips the optimizer step (the caller ends the run).
    """
    optimizer, scaler = parts.optimizer, parts.scaler
    for group in optimizer.param_groups:
        group["lr"] = lr
    rows = slice(dist_info.rank * cfg.batch_size, (dist_info.rank + 1) * cfg.batch_size)
    model.train()
    total = 0.0
    for micro in range(cfg.grad_accum_steps):
        x, y = batches.batch(step * cfg.grad_accum_steps + micro)
        last_micro = micro == cfg.grad_accum_steps - 1
        # DDP averages gradients only on the last micro-batch of the step.
        skip_sync = dist_info.enabled and not last_micro
        with model.no_sync() if skip_sync else contextlib.nullcontext():  # type: ignore[operator]
            with autocast(device, dtype):
                _, loss = model(x[rows], y[rows])
            scaler.scale(loss / cfg.grad_accum_steps).backward()
        total += float(loss.detach())
    scaler.unscale_(optimizer)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    max_norm = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    [loss_sum] = dist.all_reduce_sum([total / cfg.grad_accum_steps], dist_info, device)
    loss_value = loss_sum / dist_info.world_size
    if math.isfinite(loss_value):
        scaler.step(optimizer)
        scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return loss_value, grad_norm
