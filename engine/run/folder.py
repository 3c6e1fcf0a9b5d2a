"""The one owner of a run folder's file names, and of turning a run reference into a folder.

Every file of a run (and the two runs-folder files, ``archive/`` and ``sweeps.db``) is named
here and nowhere else; :class:`RunFolder` has a property for each. :func:`resolve_run` is the
only place that turns a run id, run folder or ``.pt`` path into a folder, and it refuses ids
that would leave the runs folder. This module knows files, never the training loop.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.config.fields import ConfigError
from engine.config.files import save_config
from engine.events import ConfigChanged, Event
from engine.run.ids import RunNotFoundError, check_run_id
from engine.run.log import effective_history, read_events
from engine.safe_files import special_file_problem

if TYPE_CHECKING:  # torch loads only when a checkpoint is read: listing runs stays fast
    import torch

    from engine.config.schema import RunConfig  # pydantic: loaded when a config is read
    from engine.run.checkpoint import LoadedModel

# In a run folder <runs_dir>/<run_id>/:
CONFIG_FILE = "config.json"  # the config the run (or its latest resume) started with
EVENTS_FILE = "events.jsonl"  # every event as it happened, live changes included
LATEST = "latest.pt"  # the newest checkpoint, which a resume continues from
BEST = "best.pt"  # the lowest validation loss, which inference prefers
STEP_COPIES = "step-*.pt"  # kept copies of latest.pt (keep_checkpoints)
TIMELINE_FILE = "timeline.jsonl"  # engine.analysis.timeline: one passage's bits per evaluation
LOCK_FILE = "run.lock"  # engine.run.lock: held by the one process that trains the run
COMMANDS_FILE = "commands.jsonl"  # engine.run.commands_file: commands from other processes
META_FILE = "meta.json"  # engine.experiments.records: tags, a note, the sweep trial
TRAIN_LOG = "train.log"  # a detached trainer's stdout and stderr
REPORT_FILE = "report.md"  # `llmv0 report`'s default output
TENSORBOARD_DIR = "tensorboard"  # engine.run.tensorboard, when log_tensorboard is on

# In the runs folder, beside the run folders:
ARCHIVE_DIR = "archive"  # archived runs, out of the lists
SWEEP_DB = "sweeps.db"  # the default Optuna storage of engine.experiments.sweep


@dataclass(frozen=True)
class RunFolder:
    """One run's folder and what it holds; every method reads files, none trains."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def events_path(self) -> Path:
        return self.path / EVENTS_FILE

    @property
    def latest_path(self) -> Path:
        return self.path / LATEST

    @property
    def best_path(self) -> Path:
        return self.path / BEST

    @property
    def timeline_path(self) -> Path:
        return self.path / TIMELINE_FILE

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_FILE

    @property
    def commands_path(self) -> Path:
        return self.path / COMMANDS_FILE

    @property
    def meta_path(self) -> Path:
        return self.path / META_FILE

    @property
    def train_log_path(self) -> Path:
        return self.path / TRAIN_LOG

    @property
    def report_path(self) -> Path:
        return self.path / REPORT_FILE

    @property
    def tensorboard_path(self) -> Path:
        return self.path / TENSORBOARD_DIR

    def archived_path(self, runs_dir: Path) -> Path:
        """Where archiving moves this run: ``<runs_dir>/archive/<run_id>``."""
        return archive_dir(runs_dir) / self.run_id

    def checkpoint_path(self, kind: str) -> Path:
        """Where the ``kind`` checkpoint ("latest" or "best") is written."""
        return self.path / f"{kind}.pt"

    def has_checkpoint(self) -> bool:
        return self.latest_path.is_file() or self.best_path.is_file()

    def has_events(self) -> bool:
        return self.events_path.is_file()

    def is_used(self) -> bool:
        """Whether a run already wrote here (events or a checkpoint): a new run must not."""
        return self.has_events() or self.has_checkpoint()

    def checkpoint_for_inference(self) -> Path:
        """best.pt (the lowest validation loss), else latest.pt.

        Raises:
            CheckpointError: neither exists yet.
        """
        from engine.run.checkpoint import CheckpointError

        for path in (self.best_path, self.latest_path):
            if path.is_file():
                return path
        raise CheckpointError(
            f"The run folder {self.path} has no checkpoint yet (no {BEST} or {LATEST}): the "
            "run stopped before its first evaluation. Train longer or pick another run."
        )

    def checkpoint_for_resume(self) -> Path:
        """latest.pt: a resume continues exactly where the run stopped.

        Raises:
            CheckpointError: the run has no latest.pt.
        """
        from engine.run.checkpoint import CheckpointError

        if not self.latest_path.is_file():
            raise CheckpointError(
                f"Cannot resume {self.run_id}: its folder {self.path} has no {LATEST} (the "
                "run stopped before its first checkpoint). Start a new run instead."
            )
        return self.latest_path

    def save_config(self, config: RunConfig) -> None:
        save_config(config, self.config_path)

    def saved_config(self) -> RunConfig | None:
        """The config the run started with (config.json), or None when missing or invalid."""
        if not self.config_path.is_file():
            return None
        from engine.config.schema import load_config

        try:
            return load_config(self.config_path)
        except ConfigError:
            return None

    def history(self) -> list[Event]:
        """The run's events as it really went (a resume replaces what it repeats)."""
        if not self.events_path.is_file():
            return []
        return effective_history(read_events(self.events_path))

    def effective_config(self, history: list[Event] | None = None) -> RunConfig | None:
        """The saved config with every live change in the history applied: the config the
        run has now (None when config.json is unreadable)."""
        config = self.saved_config()
        if config is None:
            return None
        return apply_live_changes(config, self.history() if history is None else history)

    def keep_step_copy(self, step: int, keep: int) -> Path:
        """Keep latest.pt as step-NNNNNNN.pt and prune to the newest ``keep`` such files.

        A hard link shares latest.pt's bytes (no second write); latest.pt is later replaced
        by rename, so the link keeps this step's contents.
        """
        path = self.path / f"step-{step:07d}.pt"
        path.unlink(missing_ok=True)
        try:
            os.link(self.latest_path, path)
        except OSError:  # no hard links on this filesystem
            shutil.copyfile(self.latest_path, path)
        for old in sorted(self.path.glob(STEP_COPIES))[:-keep]:
            old.unlink(missing_ok=True)
        return path


def live_changes(history: list[Event]) -> list[ConfigChanged]:
    """Every live change of a run, in order, with the step it took effect after."""
    return [event for event in history if isinstance(event, ConfigChanged)]


def apply_live_changes(config: RunConfig, history: list[Event]) -> RunConfig:
    """``config`` with the history's live changes applied, in order."""
    changes = live_changes(history)
    if not changes:
        return config
    from engine.config.schema import validate_config

    data = config.model_dump()
    for change in changes:
        data[change.name] = change.new
    try:
        return validate_config(data, source="config with live changes")
    except ConfigError:
        return config  # a change the schema no longer accepts: the saved config is true


@dataclass(frozen=True)
class RunRef:
    """A resolved run reference: the folder, and the .pt file when one was named."""

    folder: RunFolder
    checkpoint: Path | None = None

    def checkpoint_for_inference(self) -> Path:
        return self.checkpoint or self.folder.checkpoint_for_inference()

    def checkpoint_for_resume(self) -> Path:
        return self.checkpoint or self.folder.checkpoint_for_resume()

    def load_for_inference(self, device: str | torch.device = "cpu") -> LoadedModel:
        """Model (eval mode), tokenizer and config of :meth:`checkpoint_for_inference`.

        Raises:
            CheckpointError: no loadable checkpoint there.
        """
        from engine.run.checkpoint import load_checkpoint, model_from_payload

        path = self.checkpoint_for_inference()
        return model_from_payload(load_checkpoint(path), device, path)


def archive_dir(runs_dir: Path) -> Path:
    """The folder archived runs move to, beside the runs (so out of the lists)."""
    return runs_dir / ARCHIVE_DIR


def sweep_db_path(runs_dir: Path) -> Path:
    """The SQLite file that holds the sweeps of ``runs_dir`` when no storage is given."""
    return runs_dir / SWEEP_DB


def folder_for_id(run_id: str, runs_dir: Path) -> RunFolder:
    """The folder of run ``run_id`` under ``runs_dir``, existing or not.

    Raises:
        RunIdError: the id is not one plain folder name (empty, absolute, a path, '..').
    """
    return RunFolder(runs_dir / check_run_id(str(run_id)))


def resolve_run(ref: str | os.PathLike[str], runs_dir: Path | str) -> RunRef:
    """A run id, a run folder or a .pt file, as the run it names (which may not exist yet).

    An existing path is taken as given; anything else is an id under ``runs_dir``.

    Raises:
        RunNotFoundError: a special file (FIFO, device, socket) or an id that would leave
            the runs folder (RunIdError).
    """
    if not str(ref).strip():  # Path("") is the current directory, never a run
        return RunRef(folder_for_id(str(ref), Path(runs_dir)))
    path = Path(ref)
    if path.is_file():
        return RunRef(RunFolder(path.parent), path)
    if path.is_dir():
        return RunRef(RunFolder(path))
    if problem := special_file_problem(path):  # a FIFO or device is no run and no id
        raise RunNotFoundError(f"{ref!s} {problem}.")
    return RunRef(folder_for_id(str(ref), Path(runs_dir)))


def existing_run(ref: str | os.PathLike[str], runs_dir: Path | str) -> RunRef:
    """Like :func:`resolve_run`, but the run must exist.

    Raises:
        RunNotFoundError: no such file or folder.
    """
    resolved = resolve_run(ref, runs_dir)
    if resolved.checkpoint is None and not resolved.folder.path.is_dir():
        raise RunNotFoundError(
            f"No run or checkpoint named {str(ref)!r}: not a file, not a folder, and no "
            f"{resolved.folder.path}. `llmv0 runs` lists the runs in {runs_dir}."
        )
    return resolved


def require_history(ref: str | os.PathLike[str], runs_dir: Path) -> tuple[Path, list[Event]]:
    """The run's folder and effective history.

    Raises:
        RunNotFoundError: no run there, or it has no events.
    """
    folder = existing_run(ref, runs_dir).folder
    history = folder.history()
    if not history:
        raise RunNotFoundError(
            f"No events for run {str(ref)!r} in {folder.path}: check the id with `llmv0 runs` "
            f"(runs folder {runs_dir})."
        )
    return folder.path, history


def load_for_inference(
    ref: str | os.PathLike[str],
    runs_dir: Path | str = "checkpoints",
    device: str | torch.device = "cpu",
) -> LoadedModel:
    """Model (eval mode), tokenizer and config from a .pt file, run folder or run id
    (best.pt, else latest.pt).

    Raises:
        RunNotFoundError: no such run. CheckpointError: no loadable checkpoint there.
    """
    return existing_run(ref, runs_dir).load_for_inference(device)
