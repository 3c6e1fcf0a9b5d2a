"""Hyperparameter sweeps on Optuna: each trial is a normal run folder, the study is resumable.

A :class:`Worker` takes trials from the study until it holds ``n_trials`` counted trials;
workers in several processes or machines (sharing a PostgreSQL storage) fill one study, and a
trial that lands past the budget is handed back as *surplus* (failed, hidden, never trained),
so trials add up and none runs twice. A trial left RUNNING by a dead worker on this host is
marked *interrupted* and its parameters queued again. Pruning and a user's stop both record a
trial PRUNED, with its checkpoint saved.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from engine import events as ev
from engine.config.fields import ConfigError
from engine.config.files import save_user_preset
from engine.config.schema import RunConfig, validate_config
from engine.control import Control
from engine.experiments.records import read_meta, write_meta
from engine.experiments.samplers import pruner_for, sampler_for
from engine.experiments.sweep_space import SweepError, SweepSpace
from engine.run.folder import sweep_db_path
from engine.run.lock import pid_alive

log = logging.getLogger(__name__)

ATTR_SURPLUS = "surplus"
ATTR_INTERRUPTED = "interrupted"
ATTR_REQUEUED = "requeued"


def default_storage(runs_dir: Path) -> str:
    """The embedded default: a SQLite file in the runs folder (one machine needs nothing else)."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{sweep_db_path(runs_dir).resolve()}"


def storage_of(url: str) -> optuna.storages.RDBStorage:
    """Optuna's database storage; SQLite waits for a busy file instead of failing at once."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 60}}
    else:
        kwargs = {"pool_pre_ping": True}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def open_study(space: SweepSpace, storage: str) -> optuna.Study:
    """The sweep's study (created, or loaded to continue it)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the CLI reports trials itself
    study = optuna.create_study(
        study_name=space.name,
        storage=storage_of(storage),
        sampler=sampler_for(space),
        pruner=pruner_for(space),
        direction="minimize",
        load_if_exists=True,
    )
    study.set_user_attr("space", space.to_dict())
    return study


def load_study(name: str, storage: str) -> optuna.Study:
    """An existing sweep's study; ValueError naming the sweeps there when it does not exist."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=name, storage=storage_of(storage))
    except KeyError:
        names = ", ".join(list_sweeps(storage)) or "none yet"
        raise SweepError(f"No sweep named {name!r} in {storage} (sweeps there: {names}).") from None


def list_sweeps(storage: str) -> list[str]:
    """Names of the sweeps (studies) in a storage."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return [s.study_name for s in optuna.get_all_study_summaries(storage_of(storage))]


def _counted(trial: FrozenTrial) -> bool:
    """Whether a trial uses up the budget (surplus and interrupted ones do not)."""
    return not (trial.user_attrs.get(ATTR_SURPLUS) or trial.user_attrs.get(ATTR_INTERRUPTED))


def _orphaned(trial: FrozenTrial) -> bool:
    """A RUNNING trial whose worker on this host has died."""
    attrs = trial.user_attrs
    return (
        trial.state == TrialState.RUNNING
        and attrs.get("host") == socket.gethostname()
        and not pid_alive(int(attrs.get("pid", -1)))
    )


def recover_interrupted(study: optuna.Study, runs_dir: Path) -> list[int]:
    """Mark trials left running by dead workers on this host failed and interrupted, queue
    their parameters again, and return their numbers."""
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _orphaned(trial):
            continue
        # Straight to the storage, not study.tell: tell runs the sampler's after_trial, and
        # the grid sampler's may call study.stop(), which only works inside optimize().
        storage, tid = study._storage, trial._trial_id
        storage.set_trial_user_attr(tid, ATTR_INTERRUPTED, True)  # a finished trial is frozen
        try:
            storage.set_trial_state_values(tid, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker recovered it
            continue
        if trial.params and len(trial.params) == len(study.user_attrs["space"]["fields"]):
            study.enqueue_trial(trial.params, user_attrs={ATTR_REQUEUED: trial.number})
        _mark_run(runs_dir, trial.user_attrs.get("run_id"), "interrupted")
        recovered.append(trial.number)
    return recovered


class TrialFailedError(Exception):
    """The trial's run failed (bad config, diverged, interrupted): recorded FAIL."""


@dataclass(frozen=True)
class TrialRow:
    """One trial as a results table shows it."""

    number: int
    params: dict[str, Any]
    value: float | None
    duration_s: float | None
    state: str  # complete, pruned, stopped, failed, interrupted, running, queued
    run_id: str
    error: str = ""

    @property
    def changed(self) -> str:
        """``learning_rate=0.003 hidden_dim=64``: what this trial searched."""
        return " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items()
        )


def trial_state(trial: FrozenTrial) -> str:
    """complete / pruned / stopped / failed / interrupted / running / queued."""
    attrs = trial.user_attrs
    if trial.state == TrialState.COMPLETE:
        return "complete"
    if trial.state == TrialState.PRUNED:
        return "stopped" if attrs.get("stopped_by_user") else "pruned"
    if trial.state == TrialState.RUNNING:
        return "interrupted" if _orphaned(trial) else "running"
    if trial.state == TrialState.WAITING:
        return "queued"
    if attrs.get(ATTR_INTERRUPTED):
        return "interrupted"
    return "failed" if trial.state == TrialState.FAIL else trial.state.name.lower()


def results(study: optuna.Study) -> list[TrialRow]:
    """Every trial but surplus ones, in trial order."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get(ATTR_SURPLUS):
            continue
        duration = t.duration.total_seconds() if t.duration is not None else None
        # A queued trial (an interrupted one's settings, to run again) has no params yet.
        params = t.params or dict(t.system_attrs.get("fixed_params", {}))
        rows.append(
            TrialRow(
                number=t.number,
                params=params,
                value=t.value if t.state == TrialState.COMPLETE else t.user_attrs.get("best"),
                duration_s=duration,
                state=trial_state(t),
                run_id=str(t.user_attrs.get("run_id", "")),
                error=str(t.user_attrs.get("error", "")),
            )
        )
    return rows


def save_best_preset(study: optuna.Study, preset: str) -> Path:
    """Save the best complete trial's config as the user's preset ``preset`` (in the user's
    config folder, never the shipped ``configs/``: see engine.config.files); its path."""
    complete = [t for t in study.get_trials(states=(TrialState.COMPLETE,))]
    if not complete:
        raise SweepError(f"Sweep {study.study_name!r} has no complete trial yet: no best config.")
    best = min(complete, key=lambda t: t.value)  # type: ignore[arg-type, return-value]
    config = validate_config(dict(best.user_attrs["config"]), source="best trial's config")
    return save_user_preset(config, preset)


def _mark_run(runs_dir: Path, run_id: str | None, state: str) -> None:
    """Record the sweep's verdict in the trial's run folder (meta.json), for the browser."""
    if not run_id or not (runs_dir / run_id).is_dir():
        return
    meta = read_meta(runs_dir / run_id)
    meta.setdefault("sweep", {})["state"] = state
    write_meta(runs_dir / run_id, meta)


TrialCallback = Callable[[TrialRow], None]


class Worker:
    """Runs trials of one study until the budget is used or :meth:`stop` is called.

    Args:
        space: the sweep's space (its base config and searched fields).
        study: the study from :func:`open_study`.
        runs_dir: where trials' run folders go.
        on_trial: called with each finished trial's row.
        on_start: called with (trial number, run id) when a trial starts.
    """

    def __init__(
        self,
        space: SweepSpace,
        study: optuna.Study,
        runs_dir: Path,
        on_trial: TrialCallback | None = None,
        on_start: Callable[[int, str], None] | None = None,
    ) -> None:
        self.space = space
        self.study = study
        self.runs_dir = runs_dir
        self.on_trial = on_trial
        self.on_start = on_start
        self._stopping = threading.Event()
        self._control: Control | None = None

    def stop(self) -> None:
        """Stop after the current trial, whose run is stopped now and queued again."""
        self._stopping.set()
        if self._control is not None:
            self._control.stop()

    def run(self) -> int:
        """Take trials until the study is full; returns how many this worker ran."""
        ran = 0
        recover_interrupted(self.study, self.runs_dir)
        while not self._stopping.is_set():
            if (
                sum(_counted(t) for t in self.study.get_trials(deepcopy=False))
                >= self.space.n_trials
            ):
                break
            before = len(self.study.get_trials(deepcopy=False))
            self.study.optimize(self._objective, n_trials=1, catch=(TrialFailedError,))
            trials = self.study.get_trials(deepcopy=False)
            mine = [t for t in trials[before:] if t.user_attrs.get("pid") == os.getpid()]
            for trial in mine:
                if trial.user_attrs.get(ATTR_SURPLUS):
                    return ran
                ran += 1
                if self.on_trial is not None:
                    self.on_trial(next(r for r in results(self.study) if r.number == trial.number))
        return ran

    def _objective(self, trial: Trial) -> float:
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        earlier = [t for t in self.study.get_trials(deepcopy=False) if t.number < trial.number]
        if sum(_counted(t) for t in earlier) >= self.space.n_trials:
            trial.set_user_attr(ATTR_SURPLUS, True)  # another worker took the last slot
            raise TrialFailedError("surplus")
        params = {d.name: self._suggest(trial, d) for d in self.space.dimensions}
        run_id = self._run_id(trial.number)
        trial.set_user_attr("run_id", run_id)
        try:
            config = validate_config({**self.space.base, **params}, source=f"trial {trial.number}")
        except ConfigError as exc:
            trial.set_user_attr("error", str(exc))
            raise TrialFailedError(str(exc)) from None
        trial.set_user_attr("config", config.model_dump())
        write_meta(
            self.runs_dir / run_id,
            {
                "tags": [self.space.name, f"trial-{trial.number}"],
                "sweep": {"name": self.space.name, "trial": trial.number, "state": "running"},
            },
        )
        if self.on_start is not None:
            self.on_start(trial.number, run_id)
        return self._train(trial, config, run_id)

    def _suggest(self, trial: Trial, dim: Any) -> Any:
        if dim.choices:
            return trial.suggest_categorical(dim.name, list(dim.choices))
        if dim.integer:
            return trial.suggest_int(
                dim.name, int(dim.low), int(dim.high), step=int(dim.step or 1), log=dim.log
            )
        return trial.suggest_float(dim.name, dim.low, dim.high, step=dim.step, log=dim.log)

    def _run_id(self, number: int) -> str:
        run_id = f"{self.space.name}-t{number:03d}"
        if (self.runs_dir / run_id).exists():  # an older study of the same name left it
            run_id += f"-{int(time.time())}"
        return run_id

    def _train(self, trial: Trial, config: RunConfig, run_id: str) -> float:
        from engine.train.trainer import Trainer  # torch loads only when a trial really trains

        control = Control()
        self._control = control
        pruned = {"flag": False, "best": float("inf")}

        def sink(event: ev.Event) -> None:
            if isinstance(event, ev.EvalCompleted) and not pruned["flag"]:
                pruned["best"] = min(pruned["best"], event.val_loss)
                trial.report(event.val_loss, event.step)
                if trial.should_prune():
                    pruned["flag"] = True
                    control.stop()  # saves a checkpoint, then ends with reason 'stopped'

        if self._stopping.is_set():
            control.stop()
        try:
            result = Trainer(config, runs_dir=self.runs_dir, run_id=run_id).run(sink, control)
        finally:
            self._control = None
        if pruned["best"] < float("inf"):
            trial.set_user_attr("best", pruned["best"])
        if isinstance(result, ev.RunFailed):
            _mark_run(self.runs_dir, run_id, "failed")
            trial.set_user_attr("error", result.error)
            raise TrialFailedError(result.error)
        if isinstance(result, ev.RunFinished) and result.reason == "stopped":
            if self._stopping.is_set() and not pruned["flag"]:
                # The sweep itself is shutting down: count nothing, run the point again later.
                trial.set_user_attr(ATTR_INTERRUPTED, True)
                trial.set_user_attr("error", "sweep stopped; these settings run again on resume")
                self.study.enqueue_trial(
                    dict(trial.params), user_attrs={ATTR_REQUEUED: trial.number}
                )
                _mark_run(self.runs_dir, run_id, "interrupted")
                raise TrialFailedError("interrupted")
            if not pruned["flag"]:
                trial.set_user_attr("stopped_by_user", True)
            _mark_run(self.runs_dir, run_id, "pruned" if pruned["flag"] else "stopped")
            raise optuna.TrialPruned()
        best = result.best_val_loss if isinstance(result, ev.RunFinished) else float("inf")
        if not best < float("inf"):
            _mark_run(self.runs_dir, run_id, "failed")
            message = "no evaluation ran: set eval_interval below max_steps"
            trial.set_user_attr("error", message)
            raise TrialFailedError(message)
        _mark_run(self.runs_dir, run_id, "complete")
        return float(best)
