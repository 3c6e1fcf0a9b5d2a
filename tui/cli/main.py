"""The ``llmv0`` command line (train, generate, eval, plot, runs, config) and ``llmv0-tui``.

Both front doors drive the same engine. Textual is imported only when the dashboard starts;
torch only inside the commands that need it, so ``--help`` stays instant.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from engine.errors import UserError
from tui.cli.completion import complete_config_key, complete_preset, complete_run
from tui.cli.control import control as remote_control
from tui.cli.experiments import register as register_experiments
from tui.cli.generate import generate as generate_cmd
from tui.cli.inspect import inspect as inspect_cmd
from tui.cli.json_output import JsonOption, print_json
from tui.cli.sweep import register as register_sweep
from tui.cli.train import build_config, download_progress
from tui.cli.train import register as register_train
from tui.shared.cli_options import (
    CONTEXT_SETTINGS,
    FlagGroup,
    RunsDir,
    VersionOption,
    err,
    out,
    runs_dir_or_default,
    user_errors,
)

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


register_train(app)  # first: `llmv0 --help` lists the commands in the order they are added


@app.command("eval")
def evaluate_cmd(
    run: Annotated[
        str,
        typer.Argument(help="Run id, run folder or .pt file.", autocompletion=complete_run),
    ],
    split: Annotated[str, typer.Option(help="'val' or 'train'.")] = "val",
    json_: JsonOption = False,
    runs_dir: RunsDir = None,
) -> None:
    """Loss, perplexity and bits per character over a whole split."""
    import torch

    from engine.analysis.evaluate import evaluate
    from engine.run.folder import load_for_inference
    from engine.text.corpus import read_corpus, resolve_corpus, split_tokens
    from tui.cli.console import metrics_table
    from tui.shared.formatting import format_metric

    with user_errors():
        if split not in {"val", "train"}:
            raise UserError(f"--split must be 'val' or 'train', not {split!r}.")
        model, tokenizer, cfg = load_for_inference(run, runs_dir_or_default(runs_dir))
        text = read_corpus(resolve_corpus(cfg.data_file, progress=download_progress()))
        tokens = torch.tensor(tokenizer.encode(text), dtype=torch.long)
        splits = split_tokens(tokens, cfg.val_fraction, cfg.seq_length)
        metrics = evaluate(
            model, getattr(splits, split), cfg.seq_length, char_lengths=tokenizer.char_lengths()
        )
    unit = "char" if cfg.tokenizer == "char" else "token"
    if json_:
        print_json(
            {
                "run": run,
                "split": split,
                "loss": metrics.loss,
                "loss_unit": f"nats/{unit}",
                "perplexity": metrics.perplexity,
                "bits_per_char": metrics.bits_per_char,
                "windows": metrics.windows,
                "seq_length": cfg.seq_length,
                "tokens": metrics.tokens,
                "chars": metrics.chars or metrics.tokens,
            }
        )
        return
    out.print(
        metrics_table(
            f"{run} on the {split} split",
            [
                (f"loss (nats/{unit})", f"{metrics.loss:.4f}"),
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
    run: Annotated[str, typer.Argument(help="Run id or run folder.", autocompletion=complete_run)],
    png: Annotated[Path | None, typer.Option("--png", help="Also write a PNG picture.")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Loss and perplexity curves in the terminal (and as a PNG with --png)."""
    from engine.run.folder import require_history
    from engine.run.summary import curves
    from tui.cli.plotting import png_plot, terminal_plot
    from tui.shared.overlay_plot import use_colour

    with user_errors():
        folder, history = require_history(run, runs_dir_or_default(runs_dir))
        data = curves(history)
        if not data.train_steps:
            raise UserError(f"Run {run!r} has no training steps yet; nothing to plot.")
        if png is not None:
            from engine.safe_write import check_target
            from tui.shared.extras import require

            require("matplotlib", "png", "llmv0 plot --png")
            check_target(png, label="--png")  # a folder: refused, not DIR.png beside it
    if png is None or sys.stdout.isatty():
        colour = use_colour(sys.stdout)  # NO_COLOR or a pipe: plain text, no escape codes
        sys.stdout.write(terminal_plot(data, folder.name, colour=colour) + "\n")
    if png is not None:
        with user_errors():
            png_plot(data, folder.name, png, label="--png")
        out.print(f"Wrote {png}", markup=False)


@app.command()
def report(
    run: Annotated[str, typer.Argument(help="Run id or run folder.", autocompletion=complete_run)],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Markdown file [default: <run>/report.md].")
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """A markdown report: config changes, final metrics, loss chart picture, samples."""
    from engine.run.folder import RunFolder, require_history
    from engine.safe_write import check_target, write_text
    from tui.cli.report import build_report

    with user_errors():
        folder, history = require_history(run, runs_dir_or_default(runs_dir))
        target = out_file or RunFolder(folder).report_path
        check_target(target, label="--out")  # before its chart is written beside it
        write_text(target, build_report(folder, history, target), label="--out")
    out.print(f"Wrote {target}", markup=False)
    from rich.markup import escape

    from tui.cli.report import NO_CHART
    from tui.shared.extras import available

    if not available("matplotlib"):
        err.print(f"[yellow]Note:[/] {escape(NO_CHART)}")


@app.command()
def config(
    config_file: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file or preset to start from.",
            autocompletion=complete_preset,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="key=value", autocompletion=complete_config_key),
    ] = None,
    save: Annotated[Path | None, typer.Option("--save", help="Write the result here.")] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the config reference table (docs/config.md).")
    ] = False,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON schema of a config file.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Every config field with its value, allowed range and description; validate or save."""
    from engine.config.files import list_presets, save_config
    from tui.cli.config_view import check_corpus, config_json, config_view

    if markdown or schema:
        from tui.cli.config_reference import json_schema, markdown_table

        sys.stdout.write(json_schema() if schema else markdown_table())
        return

    with user_errors():
        cfg = build_config(config_file, set_)
        if save is None:
            check_corpus(cfg)  # validating means what train would refuse is refused here
    if save is not None:
        with user_errors():
            save_config(cfg, save, label="--save")
        out.print(f"Wrote {save}", markup=False)
        return
    if json_:
        print_json(config_json(cfg))
        return
    out.print(config_view(cfg, out.width))
    out.print(f"Presets: {', '.join(list_presets()) or 'none'}", markup=False)


app.command("generate")(generate_cmd)
app.command("control")(remote_control)
app.command("inspect")(inspect_cmd)
register_experiments(app)
register_sweep(app)


def _closed_pipe(exc: BaseException) -> bool:
    """Whether ``exc`` (a SystemExit) came from writing to a pipe whose reader had gone.

    Typer's copy of click turns EPIPE into exit 1, and so does Rich's console
    (``on_broken_pipe``); both raise their SystemExit while handling the OSError.
    """
    cause = exc.__context__
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno == errno.EPIPE:
            return True
        cause = cause.__context__
    return False


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush has nowhere to fail.

    The recipe of Python's docs ("Note on SIGPIPE", the signal module).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _flush_stdout() -> None:
    """Flush now, not at exit, where a closed pipe would print "Exception ignored"."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()  # the command's own exit code stands


def main() -> None:
    """Entry point of ``llmv0``.

    A reader that closes the pipe early (``llmv0 config | head -1``) got what it wanted: exit
    0 and no message, as git and cat do, so ``set -o pipefail`` scripts do not fail and exit 1
    keeps meaning "a run failed".
    """
    try:
        app(prog_name="llmv0")  # also names its shell completion, however it was started
    except SystemExit as exc:
        if exc.code not in (0, None) and _closed_pipe(exc):
            _stdout_to_devnull()
            sys.exit(0)
        _flush_stdout()
        raise
    _flush_stdout()


if __name__ == "__main__":
    main()
