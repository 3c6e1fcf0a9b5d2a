"""``llmv0 runs / compare / tag / untag / note / delete / archive / prune / export``: experiments.

The logic lives in :mod:`engine.experiments.records`; these commands parse, confirm and print.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tui.cli.completion import complete_metric, complete_run
from tui.cli.json_output import JsonOption, print_json
from tui.shared.cli_options import RunsDir, err, out, runs_dir_or_default, user_errors

MetricOption = Annotated[
    str,
    typer.Option(
        "--metric",
        "-m",
        help="Metric to overlay: train_loss, val_loss, perplexity, bits_per_char, lr, "
        "grad_norm or tokens_per_s.",
        autocompletion=complete_metric,
    ),
]
RunArg = Annotated[str, typer.Argument(help="Run id or folder.", autocompletion=complete_run)]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking.")]


def _records(runs: list[str], runs_dir: Path) -> list:
    from engine.experiments.records import run_record
    from engine.run.folder import require_history

    records = []
    for run in runs:
        folder, history = require_history(run, runs_dir)
        records.append(run_record(folder, history))
    return records


def compare_tables(records: list) -> tuple[Table, Table]:
    """The diff table (only fields that differ) and the metrics table, one column per run."""
    from engine.experiments.records import config_diff, metric_summary
    from tui.shared.overlay_plot import marker_of

    heads = [f"{marker_of(i)} {escape(r.name)}" for i, r in enumerate(records)]
    diff = Table(title="Config fields that differ (live changes with their steps)")
    diff.add_column("field", no_wrap=True)
    for head in heads:
        diff.add_column(head, overflow="fold")
    rows = config_diff(records)
    for name, cells in rows:
        diff.add_row(Text(name), *(Text(c) for c in cells))
    if not rows:
        diff.add_row("(none)", *("same config" for _ in records))
    metrics = Table(title="Metrics")
    metrics.add_column("metric", no_wrap=True)
    for head in heads:
        metrics.add_column(head, justify="right")
    for label, cells in metric_summary(records):
        metrics.add_row(label, *cells)
    return diff, metrics


def compare(
    runs: Annotated[
        list[str],
        typer.Argument(help="Two or more run ids or folders.", autocompletion=complete_run),
    ],
    metric: MetricOption = "val_loss",
    width: Annotated[int, typer.Option("--width", help="Chart width in columns.", min=30)] = 100,
    json_: JsonOption = False,
    runs_dir: RunsDir = None,
) -> None:
    """Runs side by side: config fields that differ, best/final metrics, one metric overlaid."""
    from engine.experiments.records import METRICS, ExperimentError, metric_series
    from tui.shared.overlay_plot import Series, overlay_plot, use_colour

    with user_errors():
        if len(runs) < 2:
            raise ExperimentError(
                "Give at least two runs to compare, e.g. `llmv0 compare RUN1 RUN2`."
            )
        if metric not in METRICS:
            raise ExperimentError(f"Unknown metric {metric!r}: choose one of {', '.join(METRICS)}.")
        records = _records(runs, runs_dir_or_default(runs_dir))
    if json_:
        print_json(compare_json(records, metric))
        return
    diff, metrics = compare_tables(records)
    out.print(diff)
    out.print(metrics)
    series = [Series(r.name, *metric_series(r.history, metric)) for r in records]
    if not any(s.steps for s in series):
        out.print(f"No {metric} values in these runs yet: nothing to plot.")
        return
    chart = overlay_plot(series, f"{metric} by step", width=width, colour=use_colour(sys.stdout))
    sys.stdout.write(chart + "\n")


def _changes(changes: tuple | list) -> list[dict]:
    return [{"name": c.name, "old": c.old, "new": c.new, "step": c.step} for c in changes]


def compare_json(records: list, metric: str) -> dict:
    """``compare --json`` (docs/json.md): each run's whole config, live changes, metrics and
    the chosen metric's series, and the names of the fields that differ."""
    from engine.experiments.records import config_diff, metric_series

    runs = []
    for r in records:
        steps, values = metric_series(r.history, metric)
        runs.append(
            {
                "run_id": r.name,
                "path": r.summary.path,
                "state": r.summary.state,
                "step": r.summary.step,
                "total_steps": r.summary.total_steps,
                "best_val_loss": r.summary.best_val_loss,
                "final_val_loss": r.final_val_loss,
                "final_train_loss": r.final_train_loss,
                "config": r.config,
                "changes": _changes(r.changes),
                "series": {"steps": steps, "values": values},
            }
        )
    differing = [name for name, _ in config_diff(records)]
    return {"metric": metric, "differing_fields": differing, "runs": runs}


def _folder(run: str, runs_dir: Path) -> Path:
    from engine.run.folder import require_history

    return require_history(run, runs_dir)[0]


def tag(
    run: RunArg,
    tags: Annotated[list[str], typer.Argument(help="One or more tags.")],
    runs_dir: RunsDir = None,
) -> None:
    """Add tags to a run (saved in its folder's meta.json)."""
    from engine.experiments.records import add_tags

    with user_errors():
        now = add_tags(_folder(run, runs_dir_or_default(runs_dir)), tags)
    # Plain text: escaping each part is not enough ("[x=" then "]" make a tag together).
    out.print(f"{run}: tags {', '.join(now)}", markup=False)


def untag(
    run: RunArg,
    tags: Annotated[list[str], typer.Argument(help="Tags to remove.")],
    runs_dir: RunsDir = None,
) -> None:
    """Remove tags from a run."""
    from engine.experiments.records import remove_tags

    with user_errors():
        now = remove_tags(_folder(run, runs_dir_or_default(runs_dir)), tags)
    out.print(f"{run}: tags {', '.join(now) or '(none)'}", markup=False)


def note(
    run: RunArg,
    text: Annotated[
        str | None, typer.Argument(help="The note; omit it to show the current note.")
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Show or save a run's note (kept in its folder; '' removes it)."""
    from engine.experiments.records import note_of, set_note

    with user_errors():
        folder = _folder(run, runs_dir_or_default(runs_dir))
        if text is not None:
            set_note(folder, text)
    out.print(escape(note_of(folder)) or f"{escape(run)} has no note.")


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        err.print(f"{escape(question)} Not asked without a terminal: add --yes to confirm.")
        raise typer.Exit(2)
    if not typer.confirm(question, default=False):
        out.print("Nothing changed.")
        raise typer.Exit(1)


def delete(
    run: RunArg,
    yes: Yes = False,
    runs_dir: RunsDir = None,
) -> None:
    """Delete a run folder for good (never a running run)."""
    from engine.experiments.records import delete_run
    from engine.run.lock import lock_is_live

    with user_errors():
        folder = _folder(run, runs_dir_or_default(runs_dir))
        if lock_is_live(folder):
            delete_run(folder)  # raises RunBusyError with the way out
        _confirm(f"Delete {folder} and its checkpoints?", yes)
        delete_run(folder)
    out.print(f"Deleted {escape(str(folder))}")


def archive(
    run: RunArg,
    yes: Yes = False,
    runs_dir: RunsDir = None,
) -> None:
    """Move a run under the runs folder's archive/ (out of lists; never a running run)."""
    from engine.experiments.records import archive_run
    from engine.run.lock import lock_is_live

    folder_root = runs_dir_or_default(runs_dir)
    with user_errors():
        folder = _folder(run, folder_root)
        if lock_is_live(folder):
            archive_run(folder, folder_root)
        _confirm(f"Archive {folder}?", yes)
        target = archive_run(folder, folder_root)
    out.print(f"Archived to {escape(str(target))}")


def prune(yes: Yes = False, runs_dir: RunsDir = None) -> None:
    """Delete failed runs that never completed a step."""
    from engine.experiments.records import delete_run, prunable
    from engine.run.summary import list_runs

    folder_root = runs_dir_or_default(runs_dir)
    with user_errors():
        doomed = prunable(list_runs(folder_root))
        if not doomed:
            out.print("No failed runs without steps: nothing to prune.")
            return
        for s in doomed:
            out.print(f"  {s.run_id}: {s.error[:100]}", markup=False)
        _confirm(f"Delete these {len(doomed)} failed runs?", yes)
        for s in doomed:
            delete_run(s.path)
    out.print(f"Pruned {len(doomed)} runs.")


def export(
    run: RunArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, jsonl or parquet.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write [default: stdout].")
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """A run's metric history, one row per step (evaluation metrics on their step's row)."""
    from engine.experiments.records import (
        EXPORT_FORMATS,
        ExperimentError,
        metric_rows,
        write_export,
        write_parquet,
    )
    from engine.run.folder import require_history
    from engine.safe_write import write_file, write_text

    with user_errors():
        if fmt not in EXPORT_FORMATS:
            raise ExperimentError(f"Unknown format {fmt!r}: choose csv, jsonl or parquet.")
        _, history = require_history(run, runs_dir_or_default(runs_dir))
        rows = metric_rows(history)
        if fmt == "parquet":
            if output is None:
                raise ExperimentError("Parquet is binary: give a file with --output.")
            write_file(output, lambda fh: write_parquet(rows, fh), label="--output")
        elif output is None:
            write_export(rows, fmt, sys.stdout)
            return
        else:  # the safe writer: a folder, FIFO or symlink at --output is refused
            text = io.StringIO(newline="")
            write_export(rows, fmt, text)
            write_text(output, text.getvalue(), label="--output")
    err.print(f"Wrote {len(rows)} rows to {escape(str(output))}")


def runs(
    sort: Annotated[
        str,
        typer.Option(
            "--sort", help="started, run, model, state, steps or best_val ('-' reverses)."
        ),
    ] = "started",
    filter_: Annotated[
        str,
        typer.Option(
            "--filter", help="e.g. state=finished,tag=lr|wd,model=gpt,best_val<1.6 (all must hold)."
        ),
    ] = "",
    json_: JsonOption = False,
    runs_dir: RunsDir = None,
) -> None:
    """The runs in the runs folder with their state, best validation loss, tags and live
    changes."""
    from engine.experiments.records import select_runs
    from engine.run.summary import list_runs

    folder = runs_dir_or_default(runs_dir)
    with user_errors():
        all_runs = list_runs(folder)
        summaries = select_runs(all_runs, sort, filter_)
    if json_:
        print_json(runs_json(folder, summaries))
        return
    if not summaries:
        if all_runs:
            out.print(f"No run in {folder} matches --filter {filter_!r}.", markup=False)
        else:
            out.print(
                f"No runs in {folder} yet. Start one with `llmv0 train` or `llmv0-tui`.",
                markup=False,
            )
        return
    out.print(runs_table(folder, summaries))


STATE_COLOURS = {"finished": "green", "running": "cyan", "paused": "cyan", "failed": "red",
                 "stopped": "yellow", "interrupted": "magenta"}  # fmt: skip


def runs_table(folder: Path, summaries: list) -> Group:
    """``llmv0 runs``: one row per run; every cell plain text, never read as markup.

    The folder is named on a line of its own: a table's title wraps to the table's width,
    which split a long path mid-word.
    """
    from engine.experiments.records import tags_of
    from tui.shared.formatting import format_change

    table = Table()
    columns = ("run", "model", "state", "steps", "best val loss", "checkpoint", "tags",
               "live changes")  # fmt: skip
    for column in columns:
        table.add_column(
            column,
            justify="right" if column in {"steps", "best val loss"} else "left",
            no_wrap=column == "run",  # run ids are copied into other commands whole
        )
    for s in summaries:
        best = f"{s.best_val_loss:.4f}" if s.best_val_loss != float("inf") else "-"
        changes = "; ".join(format_change(c.name, c.old, c.new, c.step) for c in s.changes)
        table.add_row(
            Text(s.run_id),
            Text(s.model),
            Text(s.state, style=STATE_COLOURS.get(s.state, "white")),
            f"{s.step:,}/{s.total_steps:,}",
            best,
            "yes" if s.has_checkpoint else "no",
            Text(", ".join(tags_of(s.path))),
            Text(changes or "-"),
        )
    return Group(Text(f"Runs in {folder}", style="table.title"), table)


def runs_json(folder: Path, summaries: list) -> dict:
    """``runs --json`` (docs/json.md): every listed run in the order shown, with full values."""
    from engine.experiments.records import note_of, tags_of

    return {
        "runs_dir": folder,
        "runs": [
            {
                "run_id": s.run_id,
                "path": s.path,
                "model": s.model,
                "state": s.state,
                "step": s.step,
                "total_steps": s.total_steps,
                "best_val_loss": s.best_val_loss,
                "started": s.started,
                "has_checkpoint": s.has_checkpoint,
                "tags": tags_of(s.path),
                "note": note_of(s.path),
                "changes": _changes(s.changes),
                "error": s.error,
            }
            for s in summaries
        ],
    }


def register(app: typer.Typer) -> None:
    """Add these commands to the ``llmv0`` app."""
    for command in (runs, compare, tag, untag, note, delete, archive, prune, export):
        app.command(command.__name__)(command)
