"""Shell completion that knows the project: run ids, presets, config keys, views, metrics.

Typer calls these while the user presses Tab (``_LLMV0_COMPLETE=complete_bash``), so each one
reads as little as it can: a run id needs its folder and the first line of its event log,
never the whole history, and nothing here imports torch. A callback that fails offers
nothing rather than print a traceback into the user's prompt.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

Completion = list[str] | list[tuple[str, str]]


def _quietly(callback: Callable[..., Completion]) -> Callable[..., Completion]:
    """``callback``, but an empty list instead of any error (Tab must never print one)."""

    def guarded(ctx: typer.Context, incomplete: str) -> Completion:
        try:
            return callback(ctx, incomplete)
        except Exception:  # a half-written run folder, a locked database: offer nothing
            return []

    guarded.__name__ = callback.__name__
    guarded.__doc__ = callback.__doc__
    return guarded


def _runs_dir(ctx: typer.Context) -> Path:
    """The ``--runs-dir`` typed before the Tab, else the default runs folder."""
    from tui.shared.cli_options import runs_dir_or_default

    given = ctx.params.get("runs_dir")
    return runs_dir_or_default(Path(given) if given else None)


def _first_event(events: Path) -> dict[str, Any]:
    """The first line of an event log (its RunStarted), read with a bound."""
    with events.open("rb") as fh:
        line = fh.readline(1 << 16)
    try:
        data = json.loads(line)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def run_choices(runs_dir: Path) -> list[tuple[str, str]]:
    """``(run id, model and start time)`` of every run folder, newest first.

    Newest by the start time in the event log's first line (a run id may be any name), the
    events file's modification time when that line is torn.
    """
    from engine.run.folder import RunFolder

    found = []
    for folder in runs_dir.iterdir() if runs_dir.is_dir() else ():
        events = RunFolder(folder).events_path
        if not events.is_file():
            continue
        first = _first_event(events)
        started = first.get("time")
        if not isinstance(started, int | float):
            started = events.stat().st_mtime
        config = first.get("config")
        model = config.get("model", "?") if isinstance(config, dict) else "?"
        found.append((float(started), folder.name, str(model)))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [(name, model) for _, name, model in found]


@_quietly
def complete_run(ctx: typer.Context, incomplete: str) -> Completion:
    """Run ids in the runs folder, newest first."""
    return [
        (name, help_) for name, help_ in run_choices(_runs_dir(ctx)) if name.startswith(incomplete)
    ]


@_quietly
def complete_preset(ctx: typer.Context, incomplete: str) -> Completion:
    """Preset names (``--config NAME``)."""
    from engine.config.files import list_presets

    return [name for name in list_presets() if name.startswith(incomplete)]


def _choices(annotation: Any) -> list[str]:
    """The values a Literal field (or a bool) takes, as ``--set`` spells them."""
    from typing import Literal, get_args, get_origin

    if annotation is bool:
        return ["true", "false"]
    if get_origin(annotation) is Literal:
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in get_args(annotation)]
    return []


def config_key_choices(incomplete: str, live_only: bool = False) -> list[tuple[str, str]]:
    """``key=`` for the fields that start with ``incomplete``; after ``key=``, the values a
    Literal or boolean field allows."""
    from engine.config.schema import LIVE_FIELDS, RunConfig, field_range

    fields = RunConfig.model_fields
    names = [n for n in fields if not live_only or n in LIVE_FIELDS]
    key, sep, _ = incomplete.partition("=")
    if sep:
        if key not in names:
            return []
        return [(f"{key}={value}", field_range(key)) for value in _choices(fields[key].annotation)]
    return [(f"{name}=", field_range(name)) for name in names if name.startswith(incomplete)]


@_quietly
def complete_config_key(ctx: typer.Context, incomplete: str) -> Completion:
    """``--set`` keys as ``key=`` (and the choices of a Literal or boolean field)."""
    return [c for c in config_key_choices(incomplete) if c[0].startswith(incomplete)]


@_quietly
def complete_live_assignment(ctx: typer.Context, incomplete: str) -> Completion:
    """``control RUN set``'s ``NAME=VALUE``: the live fields only."""
    return [
        c for c in config_key_choices(incomplete, live_only=True) if c[0].startswith(incomplete)
    ]


# The views of `llmv0 inspect`: held here, where completion needs them without importing the
# command (which imports this module for its callbacks).
VIEWS = ("surprise", "attention", "cells", "embeddings", "timeline")


@_quietly
def complete_view(ctx: typer.Context, incomplete: str) -> Completion:
    """``inspect --view``."""
    return [view for view in VIEWS if view.startswith(incomplete)]


@_quietly
def complete_metric(ctx: typer.Context, incomplete: str) -> Completion:
    """Metrics a run's history holds (``compare --metric``)."""
    from engine.experiments.records import METRICS

    return [name for name in METRICS if name.startswith(incomplete)]


@_quietly
def complete_action(ctx: typer.Context, incomplete: str) -> Completion:
    """``control RUN ACTION``."""
    from engine.control import COMMAND_KINDS

    return [kind for kind in sorted(COMMAND_KINDS) if kind.startswith(incomplete)]


def sweep_names(runs_dir: Path) -> list[str]:
    """Sweep names in the runs folder's default storage (sweeps.db), newest first.

    Read with the sqlite3 module, not Optuna: importing Optuna takes longer than a Tab press
    should. A missing file or an unknown schema gives no names.
    """
    from engine.run.folder import sweep_db_path

    path = sweep_db_path(runs_dir)
    if not path.is_file():
        return []
    uri = f"{path.resolve().as_uri()}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=0.5) as db:
        rows = db.execute("SELECT study_name FROM studies ORDER BY study_id DESC").fetchall()
    return [str(name) for (name,) in rows]


@_quietly
def complete_sweep(ctx: typer.Context, incomplete: str) -> Completion:
    """Sweep names in the runs folder's sweeps.db (``sweep-results NAME``)."""
    return [name for name in sweep_names(_runs_dir(ctx)) if name.startswith(incomplete)]
