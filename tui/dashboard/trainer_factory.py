"""What the dashboard needs from the engine's trainer and run folders, behind small seams.

The app receives a :data:`TrainerFactory`, so tests inject a scripted trainer and the CLI the
real one; run history comes from a run folder's ``events.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from engine import events as ev
from engine.control import Control

if TYPE_CHECKING:
    from engine.config.schema import RunConfig
    from engine.models import LanguageModel
    from engine.text.tokenizer import Tokenizer


class TrainerLike(Protocol):
    """What the dashboard needs from engine.train.trainer.Trainer (tests inject a scripted fake)."""

    run_id: str

    def run(self, sink: ev.Sink, control: Control | None = None) -> ev.Event: ...

    def snapshot(self) -> tuple[LanguageModel, Tokenizer] | None: ...


TrainerFactory = Callable[["RunConfig", "str | None"], TrainerLike]
"""(config, resume) -> trainer; ``resume`` is the run given with --run, or None."""


def default_trainer_factory(runs_dir: str | Path = "checkpoints") -> TrainerFactory:
    """Real trainers writing run folders under ``runs_dir`` (imported lazily: torch is slow)."""

    def make(config: RunConfig, resume: str | None) -> TrainerLike:
        from engine.train.trainer import Trainer

        return Trainer(config, runs_dir=runs_dir, resume=resume)

    return make


def remote_factory(folder: Path) -> TrainerFactory:
    """Trainers that follow (and steer) the run another process trains in ``folder``."""

    def make(config: RunConfig, resume: str | None) -> TrainerLike:
        from engine.train.attach import RemoteRun

        return RemoteRun(folder)

    return make


def read_history(run: str, runs_dir: str | Path) -> list[ev.Event]:
    """Events of a run (folder, run id or .pt file), as the run really went; [] if no log."""
    from engine.run.folder import resolve_run

    return resolve_run(run, runs_dir).folder.history()
