"""The runs under a runs folder, summarised from their ``events.jsonl`` and checkpoints."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from engine.events import (
    EpochCompleted,
    EvalCompleted,
    Event,
    RunFailed,
    RunFinished,
    RunStarted,
    StepCompleted,
)
from engine.lock import lock_is_live
from engine.run_ids import check_run_id
from engine.runlog import EVENTS_FILE, effective_history, read_events

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
    state: str  # running, interrupted, finished, stopped, failed, unknown
    step: int
    total_steps: int
    best_val_loss: float
    started: float
    error: str = ""

    @property
    def has_checkpoint(self) -> bool:
        return (self.path / "latest.pt").exists() or (self.path / "best.pt").exists()


def summarise(events: list[Event], run_dir: Path) -> RunSummary:
    """A summary from a run's events (empty events give state 'unknown')."""
    model, total, started, step = "?", 0, 0.0, 0
    best = math.inf
    state, error = "unknown", ""
    for event in events:
        if isinstance(event, RunStarted):
            model = str(event.config.get("model", "?"))
            total = event.total_steps
            started = started or event.time
            state = "running"
            step = max(step, event.start_step)
        elif isinstance(event, StepCompleted):
            step = event.step
            total = event.total_steps or total  # a time-budgeted run's estimate, kept current
        elif isinstance(event, EvalCompleted):
            best = min(best, event.val_loss)
        elif isinstance(event, RunFinished):
            state = "stopped" if event.reason == "stopped" else "finished"
            step = event.step
        elif isinstance(event, RunFailed):
            state, error = "failed", event.error
    if state == "running" and not lock_is_live(run_dir):
        state = "interrupted"  # its process died without a terminal event
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
    )


def load_history(run_dir: Path) -> list[Event]:
    """A run's effective event history (resumes replace what they repeat)."""
    path = run_dir / EVENTS_FILE
    if not path.exists():
        return []
    return effective_history(read_events(path))


class RunNotFoundError(ValueError):
    """No run folder with events under that name."""


def run_folder(run: str | Path, runs_dir: Path) -> Path:
    """A run id (under ``runs_dir``) or a path to a run folder, as the folder's path."""
    path = Path(run)
    return path if path.is_dir() else runs_dir / check_run_id(str(run))


def require_history(run: str | Path, runs_dir: Path) -> tuple[Path, list[Event]]:
    """The run's folder and effective history; RunNotFoundError when it has no events."""
    folder = run_folder(run, runs_dir)
    history = load_history(folder)
    if not history:
        raise RunNotFoundError(
            f"No events for run {str(run)!r} in {folder}: check the id with `llmv0 runs` "
            f"(runs folder {runs_dir})."
        )
    return folder, history


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """Every run folder under ``runs_dir`` that has an events log, oldest first."""
    if not runs_dir.is_dir():
        return []
    summaries = [
        summarise(load_history(folder), folder)
        for folder in sorted(runs_dir.iterdir())
        if (folder / EVENTS_FILE).exists()
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


def curves(events: list[Event]) -> Curves:
    """Training loss per step, validation metrics per evaluation, and epoch boundaries."""
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
    return out
