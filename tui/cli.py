"""The ``llmv0`` command line (train, generate, eval, plot, runs, config) and ``llmv0-tui``.

Both front doors drive the same engine. Textual is imported only when the dashboard starts;
torch only inside the commands that need it, so ``--help`` stays instant.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from engine.errors import UserError
from tui import cli_multinode
from tui.cli_common import (
    CONTEXT_SETTINGS,
    FlagCommand,
    FlagGroup,
    RunsDir,
    VersionOption,
    err,
    out,
    runs_dir_or_default,
    user_errors,
)
from tui.cli_experiments import register as register_experiments
from tui.cli_generate import generate as generate_cmd
from tui.cli_inspect import inspect as inspect_cmd
from tui.cli_remote import control as remote_control
from tui.cli_serve import ATTACH_ENV
from tui.cli_sweep import register as register_sweep

app = typer.Typer(
    name="llmv0",
    help="Train, sample and inspect a character-level language model. "
    "`llmv0-tui` opens the dashboard.",
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
    cls=FlagGroup,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(version: VersionOption = False) -> None:
    """Options before the command: --version, shell completion."""


def build_config(config: str | None, overrides: list[str] | None) -> Any:
    """The RunConfig from a file or preset plus ``--set`` overrides, validated once."""
    from engine.config_merge import merge

    return merge(None, config, overrides)


@app.command()
def train(
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="Config JSON file or preset name.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", "-s", help="Override a field: --set learning_rate=3e-4 (repeatable)."
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Run id or folder to continue exactly; 'auto' (with --run-id): continue "
            "that run if it has a checkpoint, else start it.",
        ),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option("--max-steps", help="Total optimizer steps (overrides epochs).", min=1),
    ] = None,
    time_budget: Annotated[
        str | None,
        typer.Option("--time", help="Train for this long (90s, 5m, 1h30m); sets time_budget_s."),
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Name of the run folder.")] = None,
    no_samples: Annotated[
        bool, typer.Option("--no-samples", help="Don't print the samples taken at evaluations.")
    ] = False,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach",
            help="Train in a background process that survives the "
            "terminal closing; output goes to the run folder's train.log.",
        ),
    ] = False,
    nproc: Annotated[
        int,
        typer.Option(
            "--nproc",
            help="Train data-parallel in this many processes (torchrun; "
            "one GPU each, or CPU with gloo).",
            min=1,
        ),
    ] = 1,
    nnodes: cli_multinode.NNodes = 1,
    node_rank: cli_multinode.NodeRank = None,
    rdzv_endpoint: cli_multinode.RdzvEndpoint = None,
    max_restarts: cli_multinode.MaxRestarts = 0,
    runs_dir: RunsDir = None,
) -> None:
    """Train a model with live progress. Ctrl-C saves a checkpoint, then exits with 130."""
    from engine.config import RunConfig
    from engine.control import Control
    from engine.events import RunFailed
    from engine.trainer import Trainer
    from tui.console import TrainingDisplay

    with user_errors():
        launched_resume = resume  # `auto` is decided again by each (re)started rank
        if resume == cli_multinode.AUTO:
            resume = cli_multinode.auto_resume(run_id, runs_dir_or_default(runs_dir))
        overrides = list(set_ or [])
        if time_budget is not None:
            from engine.budget import parse_duration

            try:
                seconds = parse_duration(time_budget)
            except ValueError as exc:
                raise UserError(f"--time: {exc}") from None
            set_ = [*(set_ or []), f"time_budget_s={seconds}"]
            overrides = list(set_)
        if max_steps is not None:
            overrides.append(f"max_steps={max_steps}")
        cfg: RunConfig | None
        if resume and not (config or overrides):
            cfg = None
        elif resume:
            from engine.checkpoint import config_of, load_checkpoint
            from engine.config_merge import merge
            from engine.run_folder import existing_run

            path = existing_run(resume, runs_dir_or_default(runs_dir)).checkpoint_for_resume()
            saved = config_of(load_checkpoint(path), path)
            cfg = merge(saved, config, overrides, source="resume config")
        else:
            cfg = build_config(config, overrides)
        if detach or cli_multinode.needs_launcher(nproc, nnodes):
            from tui import cli_remote

            folder = runs_dir_or_default(runs_dir)
            name = cli_remote.resolve_run_id(cfg, resume, run_id, folder)
            args = cli_remote.train_args(
                config, list(set_ or []), launched_resume, max_steps, name, folder
            )
            command = cli_remote.train_command(args, 1)
            if cli_multinode.needs_launcher(nproc, nnodes):
                command = cli_multinode.torchrun_command(
                    args, nproc, nnodes, node_rank, rdzv_endpoint, max_restarts
                )
            if detach:
                cli_remote.detach_training(command, name, folder, out)
                return
            raise typer.Exit(cli_multinode.run_launcher(command))
        progress = _download_progress()
        trainer = Trainer(
            cfg,
            runs_dir=runs_dir_or_default(runs_dir),
            run_id=run_id,
            resume=resume,
            download_progress=progress,
        )
    control = Control()
    interrupted = {"count": 0}

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted["count"] += 1
        interrupted["signal"] = signum
        if interrupted["count"] > 1:
            raise KeyboardInterrupt
        out.print(
            "\n[yellow]Stopping: saving a checkpoint after this step "
            "(Ctrl-C again to abort without saving)...[/]"
        )
        control.stop()

    def on_hangup_or_term(signum: int, frame: Any) -> None:
        # A closed SSH session (SIGHUP) or a polite kill (SIGTERM): save, then stop.
        interrupted["signal"] = signum
        control.stop()

    handlers = {
        signal.SIGINT: on_sigint,
        signal.SIGTERM: on_hangup_or_term,
        signal.SIGHUP: on_hangup_or_term,
    }
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        if trainer.dist.is_main:
            with TrainingDisplay(out, show_samples=not no_samples) as display:
                result = trainer.run(display, control)
        else:  # other data-parallel ranks train silently; rank 0 reports for all
            result = trainer.run(None, control)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.print()
    code = 0
    if isinstance(result, RunFailed):  # the inputs (exit 2) or the run itself (exit 1)
        code = 2 if isinstance(trainer.error, UserError) else 1
    if code == 0 and getattr(result, "reason", "") == "stopped" and "signal" in interrupted:
        # Saved, but not done: 128 + the signal, as shells report (130 for Ctrl-C), so a
        # script's `llmv0 train && llmv0 eval` stops here. A stop asked for by
        # `llmv0 control RUN stop` or the dashboard returns 0.
        code = 128 + interrupted["signal"]
    if not isinstance(result, RunFailed) and trainer.dist.is_main:
        out.print(
            f"Resume with: llmv0 train --resume {trainer.run_id}    "
            f"Sample with: llmv0 generate --run {trainer.run_id}"
        )
    if trainer.dist.enabled:
        _exit_rank(code)
    if code:
        raise typer.Exit(code)


def _exit_rank(code: int) -> None:
    """End a data-parallel rank now that its run is saved and its group destroyed.

    Under load, gloo's transport threads can outlive ``destroy_process_group`` and abort the
    interpreter's teardown (SIGABRT, "terminate called without an active exception"), which
    torchrun reports as a failed run although every step and checkpoint completed. Nothing
    is left to clean up, so the rank skips that teardown.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _download_progress() -> Any:
    state = {"last": -1}

    def progress(done: int, total: int | None) -> None:
        pct = int(done * 100 / total) if total else -1
        if pct != state["last"] and (pct % 10 == 0 or pct < 0):
            state["last"] = pct
            size = f"{done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else "")
            err.print(f"[dim]downloading Tiny Shakespeare: {size}[/]")

    return progress


@app.command("eval")
def evaluate_cmd(
    run: Annotated[str, typer.Argument(help="Run id, run folder or .pt file.")],
    split: Annotated[str, typer.Option(help="'val' or 'train'.")] = "val",
    runs_dir: RunsDir = None,
) -> None:
    """Loss, perplexity and bits per character over a whole split."""
    import torch

    from engine.data import read_corpus, resolve_corpus, split_tokens
    from engine.evaluate import evaluate
    from engine.run_folder import load_for_inference
    from tui.console import metrics_table
    from tui.formatting import format_metric

    with user_errors():
        if split not in {"val", "train"}:
            raise UserError(f"--split must be 'val' or 'train', not {split!r}.")
        model, tokenizer, cfg = load_for_inference(run, runs_dir_or_default(runs_dir))
        text = read_corpus(resolve_corpus(cfg.data_file, progress=_download_progress()))
        tokens = torch.tensor(tokenizer.encode(text), dtype=torch.long)
        splits = split_tokens(tokens, cfg.val_fraction, cfg.seq_length)
        metrics = evaluate(
            model, getattr(splits, split), cfg.seq_length, char_lengths=tokenizer.char_lengths()
        )
    out.print(
        metrics_table(
            f"{run} on the {split} split",
            [
                (
                    f"loss (nats/{'char' if cfg.tokenizer == 'char' else 'token'})",
                    f"{metrics.loss:.4f}",
                ),
                ("perplexity", format_metric(metrics.perplexity)),
                ("bits per character", f"{metrics.bits_per_char:.4f}"),
                ("windows x length", f"{metrics.windows:,} x {cfg.seq_length}"),
                ("tokens scored", f"{metrics.tokens:,}"),
                ("characters scored", f"{metrics.chars or metrics.tokens:,}"),
            ],
        )
    )


@app.command()
def plot(
    run: Annotated[str, typer.Argument(help="Run id or run folder.")],
    png: Annotated[Path | None, typer.Option("--png", help="Also write a PNG picture.")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Loss and perplexity curves in the terminal (and as a PNG with --png)."""
    from engine.run_folder import require_history
    from engine.runs import curves
    from tui.overlay_plot import use_colour
    from tui.plotting import png_plot, terminal_plot

    with user_errors():
        folder, history = require_history(run, runs_dir_or_default(runs_dir))
        data = curves(history)
        if not data.train_steps:
            raise UserError(f"Run {run!r} has no training steps yet; nothing to plot.")
        if png is not None:
            from tui.extras import require

            require("matplotlib", "png", "llmv0 plot --png")
    if png is None or sys.stdout.isatty():
        colour = use_colour(sys.stdout)  # NO_COLOR or a pipe: plain text, no escape codes
        sys.stdout.write(terminal_plot(data, folder.name, colour=colour) + "\n")
    if png is not None:
        png_plot(data, folder.name, png)
        out.print(f"Wrote {png}", markup=False)


@app.command()
def report(
    run: Annotated[str, typer.Argument(help="Run id or run folder.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Markdown file [default: <run>/report.md].")
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """A markdown report: config changes, final metrics, loss chart picture, samples."""
    from engine.run_folder import require_history
    from tui.report import build_report

    with user_errors():
        folder, history = require_history(run, runs_dir_or_default(runs_dir))
        target = out_file or folder / "report.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(build_report(folder, history, target), encoding="utf-8")
    out.print(f"Wrote {target}", markup=False)
    from rich.markup import escape

    from tui.extras import available
    from tui.report import NO_CHART

    if not available("matplotlib"):
        err.print(f"[yellow]Note:[/] {escape(NO_CHART)}")


@app.command()
def config(
    config_file: Annotated[
        str | None, typer.Option("--config", "-c", help="Config file or preset to start from.")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", help="key=value")] = None,
    save: Annotated[Path | None, typer.Option("--save", help="Write the result here.")] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the README's config table (defaults).")
    ] = False,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON schema of a config file.")
    ] = False,
) -> None:
    """Every config field with its value, allowed range and description; validate or save."""
    from engine.config import LIVE_FIELDS, RunConfig, field_range, list_presets, save_config

    if markdown or schema:
        from tui.config_reference import json_schema, markdown_table

        sys.stdout.write(json_schema() if schema else markdown_table())
        return

    with user_errors():
        cfg = build_config(config_file, set_)
    if save is not None:
        save_config(cfg, save)
        out.print(f"Wrote {save}", markup=False)
        return
    table = Table(title="Config fields (live = can change during a run)")
    for column in ("field", "value", "allowed", "description"):
        # Field names never wrap: they are what users copy into --set.
        table.add_column(column, overflow="fold", no_wrap=column == "field")
    for name, info in RunConfig.model_fields.items():
        live = " [cyan](live)[/]" if name in LIVE_FIELDS else ""
        table.add_row(
            name, repr(getattr(cfg, name)), field_range(name), (info.description or "") + live
        )
    out.print(table)
    out.print(f"Presets: {', '.join(list_presets()) or 'none'}")


app.command("generate")(generate_cmd)
app.command("control")(remote_control)
app.command("inspect")(inspect_cmd)
register_experiments(app)
register_sweep(app)


def main() -> None:
    """Entry point of ``llmv0``."""
    app(prog_name="llmv0")  # also names its shell completion, however it was started


tui_app = typer.Typer(context_settings=CONTEXT_SETTINGS, pretty_exceptions_enable=False)


@tui_app.command(cls=FlagCommand)
def dashboard(
    config: Annotated[
        str | None, typer.Option("--config", "-c", help="Config file or preset to load.")
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", "-r", help="Open a finished run's checkpoint.")
    ] = None,
    attach: Annotated[
        str | None,
        typer.Option(
            "--attach",
            "-a",
            help="Follow and steer a run another process trains (its whole history, then live).",
            envvar=ATTACH_ENV,  # how `--serve --attach` reaches each browser tab
            show_envvar=False,
        ),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Serve the dashboard as a web page (textual-serve).")
    ] = False,
    host: Annotated[
        str, typer.Option("--host", help="With --serve: address to bind (local only by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="With --serve: port.", min=1, max=65535)
    ] = 8000,
    runs_dir: RunsDir = None,
    version: VersionOption = False,
) -> None:
    """Open the llmv0 dashboard: edit, train, watch and sample, all in one terminal."""
    if serve:
        from tui.cli_serve import serve_dashboard

        raise typer.Exit(serve_dashboard(host, port, config, run, attach, runs_dir))
    from tui.launch import run_dashboard

    raise typer.Exit(run_dashboard(config=config, run=run, attach=attach, runs_dir=runs_dir))


def tui_main() -> None:
    """Entry point of ``llmv0-tui``."""
    tui_app(prog_name="llmv0-tui")


if __name__ == "__main__":
    main()
