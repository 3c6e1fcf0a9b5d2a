"""Checkpointer: writes a run's checkpoints into its run folder and announces each one.

Only the main data-parallel rank writes (every rank holds the same weights). A checkpoint is
the model, optimizer, loss scaler, config, tokenizer and :class:`TrainState` of one moment,
written atomically (engine.run.checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from engine import events as ev
from engine.config.schema import RunConfig
from engine.run import checkpoint as ckpt
from engine.run.folder import RunFolder
from engine.runtime.distributed import DistInfo
from engine.text.tokenizer import Tokenizer
from engine.train.state import TrainState


class Checkpointer:
    """Saves ``latest``/``best`` checkpoints and kept step copies of one run."""

    def __init__(
        self,
        folder: RunFolder,
        run_id: str,
        dist: DistInfo,
        publish: Callable[[ev.Event], None],
    ) -> None:
        self.folder = folder
        self.run_id = run_id
        self.dist = dist
        self.publish = publish

    def save(
        self,
        kind: str,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        config: RunConfig,
        tokenizer: Tokenizer,
        state: TrainState,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Write ``<kind>.pt`` atomically (main rank only) and publish CheckpointSaved.

        ``extra``: more plain entries for the payload (the run's timing state).
        """
        if not self.dist.is_main:
            return
        payload = ckpt.make_payload(
            model=model,
            optimizer=optimizer,
            config=config,
            tokenizer=tokenizer,
            run_id=self.run_id,
            scaler_state=scaler.state_dict() if scaler.is_enabled() else None,
            **state.to_payload(),
        )
        payload.update(extra or {})
        path = self.folder.checkpoint_path(kind)
        ckpt.atomic_torch_save(payload, path)
        self.publish(ev.CheckpointSaved(step=state.step, path=str(path), kind=kind))

    def keep_step_copy(self, step: int, keep: int) -> None:
        """Keep latest.pt as this step's copy, pruned to the newest ``keep`` (main rank)."""
        if keep <= 0 or not self.dist.is_main:
            return
        path = self.folder.keep_step_copy(step, keep)
        self.publish(ev.CheckpointSaved(step=step, path=str(path), kind="step"))
