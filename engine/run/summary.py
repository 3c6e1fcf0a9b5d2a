"""The runs under a runs folder, summarised from their event logs and checkpoints."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.events import (
    ConfigChanged,
    EpochCompleted,
    EvalCompleted,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
    StepCompleted,
)
from engine.run.folder import RunFolder
from engine.run.lock import lock_is_live
from engine.run.state import RunState, history_state

RUNS_DIR_ENV = "LLMV0_RUNS_DIR"


def default_runs_dir() -> Path:
    """$LLMV0_RUNS_DIR, else ./checkpoints under the current directory."""
    return Path(os.environ.get(RUNS_DIR_ENV, "checkpoints"))


@dataclass(frozen=True)
class RunSummary:
    """What a run list shows about one run folder."""

    run_id: str
    path: Path
    model: str
    state: RunState
    step: int
    total_steps: int
    best_val_loss: float
    started: float
    error: str = ""
    changes: tuple[ConfigChanged, ...] = ()  # live changes, in order, with their steps

    @property
    def has_checkpoint(self) -> bool:
        return RunFolder(self.path).has_checkpoint()


def summarise(events: list[Event], run_dir: Path) -> RunSummary:
    """A summary from a run's events (empty events give state 'unknown')."""
    model, total, started, step = "?", 0, 0.0, 0
    best = math.inf
    error = ""
    changes: list[ConfigChanged] = []
    for event in events:
        if isinstance(event, RunStarted):
            model = str(event.config.get("model", "?"))
            total = event.total_steps
            started = started or event.time
            step = max(step, event.start_step)
        elif isinstance(event, StepCompleted):
            step = event.step
            total = event.total_steps or total  # a time-budgeted run's estimate, kept current
        elif isinstance(event, EvalCompleted):
            best = min(best, event.val_loss)
        elif isinstance(event, ConfigChanged):
            changes.append(event)
        elif isinstance(event, RunFinished):
            step = event.step
        elif isinstance(event, RunFailed):
            error = event.error
    # A live state without the lock's holder: the process died without a terminal event.
    state = history_state(events, alive=lock_is_live(run_dir))
    return RunSummary(
        run_id=run_dir.name,
        path=run_dir,
        model=model,
        state=state,
        step=step,
        total_steps=total,
        best_val_loss=best,
        started=started,
        error=error,
        changes=tuple(changes),
    )


def load_history(run_dir: Path) -> list[Event]:
    """A run's effective event history (resumes replace what they repeat)."""
    return RunFolder(run_dir).history()


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """Every run folder under ``runs_dir`` that has an events log, oldest first."""
    if not runs_dir.is_dir():
        return []
    summaries = [
        summarise(RunFolder(folder).history(), folder)
        for folder in sorted(runs_dir.iterdir())
        if RunFolder(folder).has_events()
    ]
    return sorted(summaries, key=lambda s: (s.started, s.run_id))


@dataclass
class Curves:
    """Series for loss charts, extracted from a run's events."""

    train_steps: list[int]
    train_loss: list[float]
    val_steps: list[int]
    val_loss: list[float]
    train_eval_loss: list[float]
    perplexity: list[float]
    bits_per_char: list[float]
    epoch_steps: list[int]
    changes: list[ConfigChanged] = field(default_factory=list)  # live changes, with steps


def curves(events: list[Event]) -> Curves:
    """Training loss per step, validation metrics per evaluation, epoch boundaries and
    live changes."""
    out = Curves([], [], [], [], [], [], [], [])
    for event in events:
        if isinstance(event, StepCompleted):
            out.train_steps.append(event.step)
            out.train_loss.append(event.loss)
        elif isinstance(event, EvalCompleted):
            out.val_steps.append(event.step)
            out.val_loss.append(event.val_loss)
            out.train_eval_loss.append(event.train_loss)
            out.perplexity.append(event.perplexity)
            out.bits_per_char.append(event.bits_per_char)
        elif isinstance(event, EpochCompleted):
            out.epoch_steps.append(event.step)
        elif isinstance(event, ConfigChanged):
            out.changes.append(event)
    return out
