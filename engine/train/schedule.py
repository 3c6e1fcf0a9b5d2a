"""Schedule: the learning rate of a run's next optimizer step, from the trainer's progress."""

from __future__ import annotations

from collections.abc import Callable

from engine.config.schema import RunConfig
from engine.train.optim import lr_at
from engine.train.state import TrainState

Schedule = Callable[[TrainState, int, RunConfig, "float | None"], float]
"""(state, total steps, config, fraction of the time budget used or None) -> the learning
rate of the next optimizer step."""


def default_schedule(
    state: TrainState, total_steps: int, cfg: RunConfig, progress: float | None
) -> float:
    """Warmup then the config's schedule, peaking at the (live) ``learning_rate``; with a
    time budget, the schedule follows the budget's fraction used (engine.train.optim.lr_at)."""
    return lr_at(state.step, cfg, total_steps, progress=progress)
