"""A one-file markdown report of a run: config changes, final metrics, loss chart, samples."""

from __future__ import annotations

import math
from pathlib import Path

from engine.config.schema import RunConfig, diff_from_defaults, validate_config
from engine.events import EvalCompleted, Event, RunFailed, RunFinished, RunStarted, SampleGenerated
from engine.run.folder import live_changes
from engine.run.summary import curves
from tui.cli.plotting import png_plot
from tui.shared.extras import available
from tui.shared.formatting import format_duration, format_metric

# The report without matplotlib: everything but the picture, and how to get it.
NO_CHART = "the loss chart needs matplotlib: pip install 'llmv0[png]'"


def _fmt(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"


def build_report(run_dir: Path, history: list[Event], out: Path) -> str:
    """The report's markdown; also writes the loss chart as ``<out stem>-loss.png``."""
    started = next((e for e in history if isinstance(e, RunStarted)), None)
    evals = [e for e in history if isinstance(e, EvalCompleted)]
    samples = {e.step: e for e in history if isinstance(e, SampleGenerated)}
    end = next((e for e in reversed(history) if isinstance(e, RunFinished | RunFailed)), None)
    cfg = validate_config(started.config) if started else RunConfig()
    lines = [f"# Run {run_dir.name}", ""]
    if started:
        lines += [
            f"- model: **{cfg.model}**, {started.n_params:,} parameters, on {started.device} "
            f"({started.dtype})",
            f"- corpus: `{cfg.data_file}`: {started.train_tokens:,} training and "
            f"{started.val_tokens:,} validation characters, vocabulary {started.vocab_size}",
        ]
    if isinstance(end, RunFinished):
        lines.append(
            f"- finished ({end.reason}) at step {end.step:,} after {format_duration(end.elapsed_s)}"
        )
    elif isinstance(end, RunFailed):
        lines.append(f"- **failed** at step {end.step:,}: {end.error}")
    else:
        lines.append("- no terminal event: the run is still going or was interrupted")
    lines += ["", "## Config at the start (changes from the defaults)", ""]
    changes = diff_from_defaults(cfg)
    if changes:
        lines += ["| field | default | this run |", "|---|---|---|"]
        lines += [f"| `{k}` | `{d!r}` | `{v!r}` |" for k, (d, v) in changes.items()]
    else:
        lines.append("All defaults.")
    live = live_changes(history)
    lines += ["", "## Live changes during the run", ""]
    if live:
        lines += ["| from step | field | before | after |", "|---|---|---|---|"]
        lines += [f"| {c.step:,} | `{c.name}` | `{c.old!r}` | `{c.new!r}` |" for c in live]
    else:
        lines.append("None: the run kept its starting config.")
    lines += ["", "## Final metrics", ""]
    if evals:
        last = evals[-1]
        best = min(evals, key=lambda e: e.val_loss)
        lines += [
            "| | step | train loss | val loss | perplexity | bits/char |",
            "|---|---|---|---|---|---|",
            f"| last | {last.step:,} | {_fmt(last.train_loss)} | {_fmt(last.val_loss)} | "
            f"{format_metric(last.perplexity)} | {last.bits_per_char:.4f} |",
            f"| best | {best.step:,} | {_fmt(best.train_loss)} | {_fmt(best.val_loss)} | "
            f"{format_metric(best.perplexity)} | {best.bits_per_char:.4f} |",
        ]
    else:
        lines.append("No evaluation yet.")
    data = curves(history)
    if data.train_steps and available("matplotlib"):
        chart = out.with_name(f"{out.stem}-loss.png")
        png_plot(data, run_dir.name, chart)
        lines += ["", "## Loss", "", f"![loss and perplexity]({chart.name})"]
    elif data.train_steps:  # the text is the report; the picture is optional
        lines += ["", "## Loss", "", f"No chart: {NO_CHART}."]
    lines += ["", "## Samples", ""]
    picks = []
    if evals:
        picks.append(("best validation loss", min(evals, key=lambda e: e.val_loss).step))
        picks.append(("last evaluation", evals[-1].step))
    shown = set()
    for label, step in picks:
        sample = samples.get(step)
        if sample is None or step in shown:
            continue
        shown.add(step)
        lines += [
            f"At step {step:,} ({label}), temperature {sample.temperature}:",
            "",
            "```text",
            sample.prompt + sample.text,
            "```",
            "",
        ]
    if not shown:
        lines.append("No samples were taken.")
    return "\n".join(lines).rstrip() + "\n"
