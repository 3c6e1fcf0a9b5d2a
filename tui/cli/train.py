"""``llmv0 train``: build the run's config, launch it (here, detached or under torchrun), and
turn Ctrl-C, SIGTERM and SIGHUP into a saved stop with a shell-style exit code."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from engine.errors import UserError
from tui.cli import launch
from tui.cli.completion import complete_config_key, complete_preset, complete_run
from tui.shared.child_processes import die_with_parent
from tui.shared.cli_options import RunsDir, err, out, runs_dir_or_default, user_errors

if TYPE_CHECKING:
    from engine.control import Control


def register(app: typer.Typer) -> None:
    """Add the ``train`` command to the ``llmv0`` app."""
    app.command("train")(train)


def build_config(config: str | None, overrides: list[str] | None) -> Any:
    """The RunConfig from a file or preset plus ``--set`` overrides, validated once."""
    from engine.config.merge import merge

    return merge(None, config, overrides)


def _resume_value(value: str | None) -> str | None:
    """``--resume`` names a run: an empty value would start a fresh run that looks like the
    resume asked for, and in ``--resume --max-steps 5`` the parser takes the option for the
    run's name (the callback runs before "unexpected extra argument 5" would hide why)."""
    if value is not None and (not value.strip() or value.startswith("-")):
        hint = " (that is an option: put the run's id right after --resume)" if value else ""
        raise typer.BadParameter(
            f"--resume needs a run id or folder, not {value!r}{hint}. `llmv0 runs` lists the "
            "runs; `--resume auto --run-id NAME` continues NAME if it has a checkpoint."
        )
    return value


def train(
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            help="Config JSON file or preset name.",
            autocompletion=complete_preset,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            help="Override a field: --set learning_rate=3e-4 (repeatable).",
            autocompletion=complete_config_key,
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            callback=_resume_value,
            autocompletion=complete_run,
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
    nnodes: launch.NNodes = 1,
    node_rank: launch.NodeRank = None,
    rdzv_endpoint: launch.RdzvEndpoint = None,
    max_restarts: launch.MaxRestarts = 0,
    force: Annotated[
        bool,
        typer.Option("--force", help="Allow --nproc above this machine's cores (or GPUs)."),
    ] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Train a model with live progress. Ctrl-C saves a checkpoint, then exits with 130."""
    from engine.config.schema import RunConfig
    from engine.control import Control
    from engine.events import RunFailed
    from engine.run.folder import existing_run
    from engine.train.trainer import Trainer
    from tui.cli.console import TrainingDisplay

    runs = runs_dir_or_default(runs_dir)
    with user_errors():
        launched_resume = resume  # `auto` is decided again by each (re)started rank
        if resume == launch.AUTO:
            resume = launch.auto_resume(run_id, runs)
        # The run reference is resolved once; everything below uses the resolved folder.
        resumed = existing_run(resume, runs) if resume else None
        resume_from = resumed.checkpoint_for_resume() if resumed else None
        overrides = list(set_ or [])
        if time_budget is not None:
            from engine.train.budget import parse_duration

            try:
                seconds = parse_duration(time_budget)
            except ValueError as exc:
                raise UserError(f"--time: {exc}") from None
            set_ = [*(set_ or []), f"time_budget_s={seconds}"]
            overrides = list(set_)
        if max_steps is not None:
            overrides.append(f"max_steps={max_steps}")
        cfg: RunConfig | None
        if resume_from is not None and not (config or overrides):
            cfg = None
        elif resume_from is not None:
            from engine.config.merge import merge
            from engine.run.checkpoint import config_of, load_checkpoint

            saved = config_of(load_checkpoint(resume_from), resume_from)
            cfg = merge(saved, config, overrides, source="resume config")
        else:
            cfg = build_config(config, overrides)
        if detach or launch.needs_launcher(nproc, nnodes):
            launch.check_nproc(nproc, cfg.device if cfg is not None else "auto", force)
            name = launch.resolve_run_id(cfg, resumed, run_id, runs)
            if launched_resume != launch.AUTO:
                launched_resume = str(resume_from) if resume_from else None
            args = launch.train_args(
                config, list(set_ or []), launched_resume, max_steps, name, runs
            )
            command = launch.train_command(
                args, nproc, nnodes, node_rank, rdzv_endpoint, max_restarts
            )
            if detach:
                _detach(command, name, runs)
                return
            raise typer.Exit(launch.run_foreground(command))
        _as_rank()
        progress = download_progress()
        trainer = Trainer(
            cfg, runs_dir=runs, run_id=run_id, resume=resume_from, download_progress=progress
        )
    control = Control()
    with stop_on_signals(control) as interrupted:
        if trainer.dist.is_main:
            with TrainingDisplay(out, show_samples=not no_samples) as display:
                result = trainer.run(display, control)
        else:  # other data-parallel ranks train silently; rank 0 reports for all
            result = trainer.run(None, control)
    out.print()
    code = 0
    if isinstance(result, RunFailed):  # the inputs (exit 2) or the run itself (exit 1)
        code = 2 if isinstance(trainer.error, UserError) else 1
    if code == 0 and getattr(result, "reason", "") == "stopped" and "signal" in interrupted:
        # Saved, but not done: 128 + the signal, as shells report (130 for Ctrl-C), so a
        # script's `llmv0 train && llmv0 eval` stops here. A stop asked for by
        # `llmv0 control RUN stop` or the dashboard returns 0.
        code = 128 + interrupted["signal"]
    if trainer.cancelled is not None:  # stopped before the first step: nothing to resume
        code = 128 + interrupted.get("signal", signal.SIGINT)
    elif not isinstance(result, RunFailed) and trainer.dist.is_main:
        out.print(
            f"Resume with: llmv0 train --resume {trainer.run_id}    "
            f"Sample with: llmv0 generate --run {trainer.run_id}",
            markup=False,  # a run id is user text: `[bold]x` must print as typed
        )
    if trainer.dist.enabled:
        _exit_rank(code)
    if code:
        raise typer.Exit(code)


@contextmanager
def stop_on_signals(control: Control) -> Iterator[dict[str, int]]:
    """While the block runs, Ctrl-C, SIGTERM and SIGHUP ask ``control`` to stop (the trainer
    saves first); a second Ctrl-C aborts at once. Yields a dict that holds ``"signal"``, the
    last signal's number, once one came. The previous handlers come back afterwards."""
    interrupted = {"count": 0}

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted["count"] += 1
        interrupted["signal"] = signum
        if interrupted["count"] > 1:
            raise KeyboardInterrupt
        out.print(
            "\n[yellow]Stopping: saving a checkpoint after this step, if training has begun "
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
    with launch.handling_signals(handlers):
        yield interrupted


def _detach(command: list[str], run_id: str, runs_dir: Path) -> None:
    """Train in the background, its output in the run folder's train.log, and say how to
    watch and steer it."""
    from engine.run.folder import folder_for_id

    log_path = folder_for_id(run_id, runs_dir).train_log_path
    process = launch.start_detached(command, log_path)
    out.print(f"Training run [cyan]{escape(run_id)}[/] in the background (pid {process.pid}).")
    out.print(f"  output:  {log_path}", markup=False)
    out.print(f"  watch:   llmv0-tui --attach {run_id}", markup=False)
    out.print(
        f"  control: llmv0 control {run_id} pause|resume|stop|save|set NAME=VALUE", markup=False
    )


def _as_rank() -> None:
    """In a data-parallel rank: show its join and leave lines (engine.runtime.distributed
    logs them) on stderr, which torchrun passes to the launcher's terminal, so every
    machine's output says what it does; and stop with a checkpoint when torchrun dies
    (it starts each rank in a session of its own, so nothing else would reach it)."""
    from engine.runtime.distributed import from_env

    if not from_env().enabled:
        return
    if "TORCHELASTIC_RUN_ID" in os.environ:  # started by torchrun, which is our parent
        die_with_parent(signal.SIGTERM)
    logger = logging.getLogger("engine.runtime.distributed")
    if not any(getattr(h, "llmv0_rank_lines", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("llmv0: %(message)s"))
        handler.llmv0_rank_lines = True  # type: ignore[attr-defined]  # added once per process
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


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


def download_progress() -> Any:
    """A corpus-download callback that prints every tenth percent to stderr."""
    state = {"last": -1}

    def progress(done: int, total: int | None) -> None:
        pct = int(done * 100 / total) if total else -1
        if pct != state["last"] and (pct % 10 == 0 or pct < 0):
            state["last"] = pct
            size = f"{done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else "")
            err.print(f"[dim]downloading Tiny Shakespeare: {size}[/]")

    return progress
