"""``llmv0 sweep SPACE_FILE`` and ``llmv0 sweep-results NAME``: hyperparameter sweeps.

The engine (engine/experiments/sweep.py) runs trials; this module starts workers (``--jobs N``:
N-1 more processes on the same study, built by tui.cli.launch), reports each trial as it ends
and prints the results table.
"""

from __future__ import annotations

import json
import math
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tui.cli import launch
from tui.cli.completion import complete_sweep
from tui.shared.cli_options import RunsDir, err, out, runs_dir_or_default, user_errors
from tui.shared.formatting import format_duration

Storage = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Optuna storage URL, e.g. postgresql://user@host/db to share a sweep between "
        "machines [default: sqlite file sweeps.db in the runs folder].",
    ),
]
STATE_STYLES = {
    "complete": "green",
    "pruned": "yellow",
    "stopped": "yellow",
    "failed": "red",
    "interrupted": "magenta",
    "running": "cyan",
    "queued": "dim",
}


def results_table(name: str, rows: list) -> Table:
    """The sweep's trials: number, changed fields, best val loss, time, state."""
    complete = [r for r in rows if r.state == "complete" and r.value is not None]
    best = min(complete, key=lambda r: r.value).number if complete else None
    table = Table(title=f"Sweep {escape(name)}: {len(rows)} trials (* best)")
    for column in ("trial", "changed fields", "best val", "time", "state", "run"):
        table.add_column(column, justify="right" if column in {"trial", "best val"} else "left")
    for r in rows:
        value = f"{r.value:.4f}" if r.value is not None and math.isfinite(r.value) else "—"
        style = STATE_STYLES.get(r.state, "")
        table.add_row(
            f"{r.number}{'*' if r.number == best else ''}",
            escape(r.changed),
            value,
            format_duration(r.duration_s),
            f"[{style}]{r.state}[/]" if style else r.state,
            escape(r.run_id),
        )
    return table


def _require_optuna(feature: str) -> None:
    """Sweeps run on Optuna, an optional extra: name it in one line when it is missing."""
    from tui.shared.extras import require

    require("optuna", "sweep", feature)


def _check_jobs(jobs: int, force: bool) -> None:
    """Each job is a whole trainer process: more than the cores only compete for them, and a
    typo (``--jobs 1000``) would start a thousand (the same rule as ``train --nproc``)."""
    limit, what = launch.process_limit("cpu")
    if jobs > limit and not force:
        raise launch.LaunchError(
            f"--jobs {jobs} is more than the {limit} {what} of this machine: each job trains "
            f"a whole model, so more than {limit} only compete for them. Use --jobs {limit} "
            f"or fewer, or add --force to start {jobs} anyway."
        )


def sweep(
    space_file: Annotated[Path, typer.Argument(help="Search space: a .toml or .json file.")],
    storage: Storage = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Trials at once (worker processes).", min=1)
    ] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="No per-trial lines.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Allow more --jobs than this machine has cores.")
    ] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Run (or continue) a sweep: each trial trains a normal run folder; Ctrl-C stops it.

    Run the same command again to continue a stopped or killed sweep; trials a killed
    sweep left half-done are marked interrupted and run again.
    """
    from engine.experiments.sweep_space import load_space

    folder = runs_dir_or_default(runs_dir)
    with user_errors():
        _check_jobs(jobs, force)
        _require_optuna("llmv0 sweep")
        space = load_space(space_file)
        from engine.experiments.sweep import default_storage

        url = storage or default_storage(folder)
        study = _open(space, url)
    worker_command = launch.sweep_worker_command(space_file, url, folder)
    helpers = [launch.start_child(worker_command) for _ in range(jobs - 1)]

    def on_start(number: int, run_id: str) -> None:
        if not quiet:
            out.print(f"trial {number} started: run {escape(run_id)}")

    def on_trial(row: Any) -> None:
        if quiet:
            return
        value = f"best val {row.value:.4f}" if row.value is not None else row.error[:80]
        out.print(  # plain text: two escaped parts can still make a tag together
            f"trial {row.number} {row.state}: {row.changed} "
            f"({value}, {format_duration(row.duration_s)})",
            markup=False,
        )

    from engine.experiments.sweep import Worker, results

    worker = Worker(space, study, folder, on_trial=on_trial, on_start=on_start)

    stopped_by: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        stopped_by.append(signum)
        err.print("[yellow]Stopping the sweep after saving this trial's checkpoint…[/]")
        worker.stop()
        for helper in helpers:
            helper.send_signal(signal.SIGINT)

    with launch.handling_signals({signal.SIGINT: on_signal, signal.SIGTERM: on_signal}):
        worker.run()
        for helper in helpers:
            helper.wait()
    if not quiet:
        out.print(results_table(space.name, results(study)))
        out.print(f"Storage: {escape(_safe_url(url))}")
    if stopped_by:  # like `llmv0 train`: 128 + the signal, so a calling script stops too
        raise typer.Exit(128 + stopped_by[0])


def _safe_url(url: str) -> str:
    """A storage URL without its password, for printing."""
    head, sep, tail = url.partition("@")
    if sep and ":" in head.split("//", 1)[-1]:
        scheme, _, user = head.partition("//")
        return f"{scheme}//{user.split(':', 1)[0]}:***@{tail}"
    return url


def _open(space: Any, url: str) -> Any:
    from engine.experiments.sweep import open_study
    from engine.experiments.sweep_space import SweepError

    try:
        return open_study(space, url)
    except ImportError as exc:  # e.g. postgresql:// without a driver
        raise SweepError(f"Cannot open storage {_safe_url(url)}: {exc}") from None
    except Exception as exc:  # sqlalchemy's errors: a server down, a bad URL
        if type(exc).__module__.startswith(("sqlalchemy", "optuna")):
            raise SweepError(
                f"Cannot open storage {_safe_url(url)}: {str(exc).splitlines()[0]}"
            ) from None
        raise


def sweep_results(
    name: Annotated[
        str,
        typer.Argument(
            help="The sweep's name (from its space file).", autocompletion=complete_sweep
        ),
    ],
    storage: Storage = None,
    save_best_preset: Annotated[
        str | None,
        typer.Option(
            "--save-best-preset",
            help="Save the best trial's config as this preset, in your config folder "
            "(~/.config/llmv0/presets on Linux); then --config NAME uses it.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON document (docs/experiments.md#json-output)."),
    ] = False,
    runs_dir: RunsDir = None,
) -> None:
    """A sweep's trials: changed fields, best val loss, time and state (complete/pruned/...)."""
    folder = runs_dir_or_default(runs_dir)
    with user_errors():
        _require_optuna("llmv0 sweep-results")
        from engine.experiments.sweep import default_storage, load_study, results
        from engine.experiments.sweep import save_best_preset as save

        url = storage or default_storage(folder)
        study = load_study(name, url)
        rows = results(study)
        if not as_json:  # the table first, even when saving the preset then fails
            out.print(results_table(name, rows))
        path = save(study, save_best_preset) if save_best_preset else None
    if as_json:
        document = results_document(study, rows, url)
        if path is not None:
            document["preset"] = {"name": save_best_preset, "path": str(path)}
        print_json(document)
    elif path is not None:
        # soft_wrap: the path stays one piece, copyable, however narrow the terminal.
        out.print(
            f"Saved the best config as preset {save_best_preset}: {path}",
            markup=False,
            soft_wrap=True,
        )
        out.print(f"Train it with: llmv0 train --config {save_best_preset}", markup=False)


def _finite(value: float | None) -> float | None:
    """JSON has no infinity or NaN: a trial without a finite loss has none (null)."""
    return value if value is not None and math.isfinite(value) else None


def results_document(study: Any, rows: list, url: str) -> dict[str, Any]:
    """``sweep-results --json``: the sweep and every trial, values whole (shape documented in
    docs/experiments.md, "JSON output")."""
    space = study.user_attrs.get("space", {})
    complete = [r for r in rows if r.state == "complete" and _finite(r.value) is not None]
    best = min(complete, key=lambda r: r.value).number if complete else None
    return {
        "sweep": study.study_name,
        "storage": _safe_url(url),
        "method": space.get("method"),
        "n_trials": space.get("n_trials"),
        "fields": list(space.get("fields", [])),
        "objective": "best_val_loss",
        "direction": "minimize",
        "best_trial": best,
        "trials": [
            {
                "number": r.number,
                "state": r.state,
                "params": dict(r.params),
                "value": _finite(r.value),
                "duration_s": r.duration_s,
                "run_id": r.run_id or None,
                "error": r.error or None,
            }
            for r in rows
        ],
    }


def print_json(document: Any) -> None:
    """One JSON document on stdout: plain text, never through Rich (no colour, no markup, no
    wrapping), every number whole."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def register(app: typer.Typer) -> None:
    """Add the sweep commands to the ``llmv0`` app."""
    app.command("sweep")(sweep)
    app.command("sweep-results")(sweep_results)
