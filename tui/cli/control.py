"""Runs that outlive the terminal: ``llmv0 train --detach`` and ``llmv0 control RUN ACTION``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from tui.cli import remote_answer
from tui.shared.cli_options import user_errors

err = Console(stderr=True, highlight=False)


def train_args(
    config: str | None,
    overrides: list[str],
    resume: str | None,
    max_steps: int | None,
    run_id: str,
    runs_dir: Path,
) -> list[str]:
    """Arguments for ``llmv0 train`` in a child process (a detached or torchrun launch)."""
    args = ["--runs-dir", str(runs_dir), "--no-samples"]
    if resume == "auto":  # each (re)started process decides: resume if saved, else start
        args += ["--resume", "auto", "--run-id", run_id]
    else:
        args += ["--resume", str(runs_dir / run_id)] if resume else ["--run-id", run_id]
    if config:
        args += ["--config", config]
    for item in overrides:
        args += ["--set", item]
    if max_steps is not None:
        args += ["--max-steps", str(max_steps)]
    return args


def train_command(args: list[str], nproc: int) -> list[str]:
    """The command line that trains with ``args``: one process, or ``nproc`` under torchrun."""
    if nproc > 1:
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            "tui.cli.main",
            "train",
            *args,
        ]
    return [sys.executable, "-m", "tui.cli.main", "train", *args]


def resolve_run_id(cfg: Any, resume: str | None, run_id: str | None, runs_dir: Path) -> str:
    """The run folder's name, fixed before any child process starts."""
    from engine.run.folder import existing_run, folder_for_id
    from engine.train.setup import new_run_id, refuse_used_folder

    if resume:
        return existing_run(resume, runs_dir).folder.run_id
    if run_id:  # refused here, before any child process or train.log exists
        refuse_used_folder(folder_for_id(run_id, runs_dir))
    return run_id or new_run_id(cfg, runs_dir)


def detach_training(command: list[str], run_id: str, runs_dir: Path, out: Console) -> None:
    """Start ``command`` in a new session whose output goes to ``<run>/train.log``."""
    folder = runs_dir / run_id
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "train.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # no SIGHUP when the terminal closes
            cwd=Path.cwd(),
        )
    out.print(f"Training run [cyan]{escape(run_id)}[/] in the background (pid {process.pid}).")
    out.print(f"  output:  {log_path}", markup=False)
    out.print(f"  watch:   llmv0-tui --attach {run_id}", markup=False)
    out.print(
        f"  control: llmv0 control {run_id} pause|resume|stop|save|set NAME=VALUE", markup=False
    )


def control(
    run: Annotated[str, typer.Argument(help="Run id or run folder.")],
    action: Annotated[str, typer.Argument(help="pause, resume, stop, save, sample or set.")],
    assignment: Annotated[
        str | None, typer.Argument(help="For set: NAME=VALUE, e.g. learning_rate=3e-4.")
    ] = None,
    runs_dir: Annotated[Path | None, typer.Option("--runs-dir")] = None,
    wait: Annotated[
        float,
        typer.Option("--wait", help="For set: seconds to wait for the trainer's answer.", min=0),
    ] = 10.0,
) -> None:
    """Send a command to a run trained by another process (applied after its current step).

    ``set`` is checked against the run's config before it is sent, then waits for the trainer
    to say it applied or rejected the change (exit 0 applied, 2 rejected, 1 no answer).
    """
    from engine.run.commands_file import send_command
    from engine.run.folder import existing_run
    from engine.run.lock import lock_is_live
    from engine.run.summary import default_runs_dir

    name, value = "", None
    with user_errors():
        folder = existing_run(run, runs_dir or default_runs_dir()).folder.path
        if action == "set":
            name, value = remote_answer.checked_assignment(folder, assignment or "")
        start = remote_answer.events_size(folder)
        send_command(folder, action, name, value)
    if not lock_is_live(folder):
        err.print(
            f"[yellow]Note:[/] no live trainer holds {escape(str(folder))}; the command waits "
            "for nobody and is ignored by a future resume."
        )
        return
    if action != "set" or wait == 0:
        err.print(f"Sent {action} to {folder.name}.", markup=False)
        return
    verdict, text = remote_answer.wait_for_answer(folder, start, name, wait)
    err.print(text, markup=False)
    if verdict != "applied":
        raise typer.Exit(2 if verdict == "rejected" else 1)
