"""The one launcher: every child process ``llmv0`` starts (a detached trainer, torchrun for
``--nproc`` and several machines, sweep workers) gets its command line and environment here,
and every signal handler the commands install goes through :func:`handling_signals`.

Several machines run the same command each with ``--nnodes M --rdzv-endpoint HOST:PORT``
(torchrun's c10d rendezvous); ``--node-rank R`` fixes each machine's place instead (static
rendezvous), so global rank 0, which writes the run folder, is on machine 0. ``--resume auto``
continues the named run from its latest checkpoint when it has one, so a torchrun restart or
a scheduler's requeue carries on instead of starting over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.errors import UserError
from tui.shared.child_processes import dies_with_this_process

if TYPE_CHECKING:
    from engine.run.folder import RunRef

AUTO = "auto"

NNodes = Annotated[
    int,
    typer.Option("--nnodes", help="Machines in the job (run the same command on each).", min=1),
]
NodeRank = Annotated[
    int | None,
    typer.Option(
        "--node-rank",
        help="This machine's place, 0 to nnodes-1 (static rendezvous: rank 0 on machine 0); "
        "leave it out to let the c10d rendezvous assign places.",
        min=0,
    ),
]
RdzvEndpoint = Annotated[
    str | None,
    typer.Option(
        "--rdzv-endpoint",
        help="HOST:PORT every machine can reach, where the machines meet (torchrun's "
        "rendezvous; the machine at HOST hosts it). Needed with --nnodes > 1.",
    ),
]
MaxRestarts = Annotated[
    int,
    typer.Option(
        "--max-restarts",
        help="Restart the processes this many times after a failure (torchrun); with "
        "--resume auto they continue from the latest checkpoint.",
        min=0,
    ),
]

TORCHRUN = ("-m", "torch.distributed.run")

# torchrun's c10d rendezvous shares one key-value store across restarts by default, and the
# restarted workers' gloo group then reads the addresses the killed workers published: the
# survivor connects to a dead port ("Connection refused") or waits for ever. Opting out gives
# every rendezvous round a fresh store (hosted by its rank 0); without it the killed-node test
# in tests/e2e/test_multinode.py failed about one run in two.
FRESH_STORE_ENV = "TORCH_DISABLE_SHARE_RDZV_TCP_STORE"
# How the ranks met, for the line each rank prints when it joins (torchrun tells its workers
# their ranks but not the rendezvous); engine.runtime.distributed reads it.
RENDEZVOUS_ENV = "LLMV0_RENDEZVOUS"


class LaunchError(UserError, ValueError):
    """The launch options cannot work together (the message says what to change)."""


# ----- command lines ------------------------------------------------------------------------
def llmv0_command(*args: str) -> list[str]:
    """``llmv0 ARGS`` in a new interpreter: this Python, this checkout, no entry-point script."""
    return [sys.executable, "-m", "tui.cli.main", *args]


def needs_launcher(nproc: int, nnodes: int) -> bool:
    """Whether training runs under torchrun rather than in one process."""
    return nproc > 1 or nnodes > 1


def auto_resume(run_id: str | None, runs_dir: Path) -> str | None:
    """``--resume auto``: the run's folder when it has a checkpoint, else None (start it).

    Raises:
        LaunchError: no ``--run-id``: a restart could not find the run it started.
    """
    if not run_id:
        raise LaunchError(
            "--resume auto needs --run-id NAME, so that a restarted or requeued command "
            "finds the run it started."
        )
    from engine.run.folder import folder_for_id

    folder = folder_for_id(run_id, runs_dir)
    return str(folder.path) if folder.latest_path.is_file() else None


def resolve_run_id(cfg: Any, resumed: RunRef | None, run_id: str | None, runs_dir: Path) -> str:
    """The run folder's name, fixed before any child process starts.

    Raises:
        RunExistsError: ``run_id`` names a folder that already holds a run.
    """
    from engine.run.folder import folder_for_id
    from engine.train.setup import new_run_id, refuse_used_folder

    if resumed is not None:
        return resumed.folder.run_id
    if run_id:  # refused here, before any child process or train.log exists
        refuse_used_folder(folder_for_id(run_id, runs_dir))
    return run_id or new_run_id(cfg, runs_dir)


def train_args(
    config: str | None,
    overrides: list[str],
    resume: str | None,
    max_steps: int | None,
    run_id: str,
    runs_dir: Path,
) -> list[str]:
    """Arguments for ``llmv0 train`` in a child process (a detached or torchrun launch).

    ``resume`` is AUTO, an already resolved checkpoint or run folder, or None for a new run.
    """
    args = ["--runs-dir", str(runs_dir), "--no-samples"]
    if resume == AUTO:  # each (re)started process decides: resume if saved, else start
        args += ["--resume", AUTO, "--run-id", run_id]
    else:
        args += ["--resume", resume] if resume else ["--run-id", run_id]
    if config:
        args += ["--config", config]
    for item in overrides:
        args += ["--set", item]
    if max_steps is not None:
        args += ["--max-steps", str(max_steps)]
    return args


def train_command(
    args: list[str],
    nproc: int = 1,
    nnodes: int = 1,
    node_rank: int | None = None,
    rdzv_endpoint: str | None = None,
    max_restarts: int = 0,
) -> list[str]:
    """``llmv0 train ARGS``: in one process, or under torchrun when ``needs_launcher``.

    Raises:
        LaunchError: several machines without a rendezvous endpoint, or a bad node rank.
    """
    if needs_launcher(nproc, nnodes):
        return torchrun_command(args, nproc, nnodes, node_rank, rdzv_endpoint, max_restarts)
    return llmv0_command("train", *args)


def torchrun_command(
    train_args: list[str],
    nproc: int,
    nnodes: int = 1,
    node_rank: int | None = None,
    rdzv_endpoint: str | None = None,
    max_restarts: int = 0,
) -> list[str]:
    """The torchrun command line that runs ``llmv0 train train_args`` on this machine.

    Raises:
        LaunchError: several machines without a rendezvous endpoint, or a bad node rank.
    """
    launch = [sys.executable, *TORCHRUN, f"--nproc_per_node={nproc}"]
    if nnodes == 1 and rdzv_endpoint is None:
        launch.append("--standalone")
    else:
        if not rdzv_endpoint or ":" not in rdzv_endpoint:
            raise LaunchError(
                "--nnodes > 1 needs --rdzv-endpoint HOST:PORT, an address and free port of one "
                "of the machines that all of them can reach (the same on every machine)."
            )
        check_endpoint(rdzv_endpoint)
        if node_rank is not None and node_rank >= nnodes:
            raise LaunchError(f"--node-rank must be below --nnodes ({nnodes}), not {node_rank}.")
        launch += [f"--nnodes={nnodes}", f"--rdzv_endpoint={rdzv_endpoint}"]
        if node_rank is None:
            launch.append("--rdzv_backend=c10d")
        else:
            launch += ["--rdzv_backend=static", f"--node_rank={node_rank}"]
    if max_restarts:
        launch.append(f"--max_restarts={max_restarts}")
    return [*launch, "-m", "tui.cli.main", "train", *train_args]


def check_endpoint(endpoint: str) -> None:
    """Refuse a rendezvous endpoint torchrun would die on with a traceback.

    Raises:
        LaunchError: no host, or a port that is not a number from 1 to 65535.
    """
    host, _, port = endpoint.rpartition(":")
    if not host.strip("[]") or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise LaunchError(
            f"--rdzv-endpoint {endpoint!r} is not HOST:PORT with a port from 1 to 65535; give "
            "an address and free port of one of the machines, the same on every machine "
            "(for example 10.0.0.1:29400)."
        )


def process_limit(device: str) -> tuple[int, str]:
    """How many training processes this machine can run side by side, and what limits it:
    its GPUs when training on CUDA, else the CPU cores this process may use."""
    if device != "cpu" and device != "mps":
        import torch  # only here: most launches never need to ask

        if torch.cuda.is_available():
            return torch.cuda.device_count(), "GPUs"
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return cores, "CPU cores"


def check_nproc(nproc: int, device: str, force: bool) -> None:
    """Refuse more processes than the machine has cores (or GPUs) unless ``force``: each
    runs a whole trainer, so a typo such as ``--nproc 100000`` would start thousands.

    Raises:
        LaunchError: ``nproc`` above the limit without ``force``.
    """
    if nproc <= 1 or force:
        return
    limit, what = process_limit(device)
    if nproc > limit:
        raise LaunchError(
            f"--nproc {nproc} is more than the {limit} {what} of this machine: each process "
            f"trains a whole copy of the model, so more than {limit} only compete for them. "
            f"Use --nproc {limit} or fewer, or add --force to start {nproc} anyway."
        )


def sweep_worker_command(space_file: Path, storage: str, runs_dir: Path) -> list[str]:
    """One more quiet worker on the sweep of ``space_file`` in ``storage``."""
    return llmv0_command(
        "sweep", str(space_file), "--storage", storage, "--runs-dir", str(runs_dir), "--quiet"
    )


def child_env(command: list[str]) -> dict[str, str]:
    """The environment ``command`` runs in: this one; under torchrun, with a fresh store per
    rendezvous round (unless the user chose otherwise) and the rendezvous named for the
    ranks' join lines."""
    if tuple(command[1:3]) == TORCHRUN:
        return {FRESH_STORE_ENV: "1", **os.environ, RENDEZVOUS_ENV: rendezvous_of(command)}
    return dict(os.environ)


def rendezvous_of(command: list[str]) -> str:
    """How the ranks of a torchrun ``command`` meet, in words: "c10d at HOST:PORT"."""
    if "--standalone" in command:
        return "standalone (this machine)"
    flags = dict(a.removeprefix("--rdzv_").split("=", 1) for a in command if a[:7] == "--rdzv_")
    return f"{flags.get('backend', 'c10d')} at {flags.get('endpoint', '?')}"


# ----- starting them ------------------------------------------------------------------------
def start_detached(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session (no SIGHUP when the terminal closes), its output
    appended to ``log_path``.

    The one child meant to outlive this process (``train --detach``): no death signal. Under
    torchrun its ranks still die with torchrun (each asks for it, tui.cli.train)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=Path.cwd(),
            env=child_env(command),
        )


def start_child(command: list[str]) -> subprocess.Popen[bytes]:
    """Start ``command`` beside this process, sharing its terminal (a sweep worker, torchrun).

    It gets SIGTERM when this process dies, even by SIGKILL (tui.shared.child_processes):
    torchrun starts its workers in sessions of their own, and without it a killed launcher
    left them training with parent 1 (issue 28: ~160 of them, for 35 minutes).
    """
    return subprocess.Popen(command, env=child_env(command), preexec_fn=dies_with_this_process())


def run_foreground(command: list[str]) -> int:
    """Run ``command`` (torchrun) and return its exit code, 130 after Ctrl-C.

    Ctrl-C reaches the training processes directly (same terminal), and they stop with a
    checkpoint; this process only waits for them instead of killing them mid-save.
    """
    interrupted: list[int] = []

    # Our own handler, not Python's default: a process started in the background by a script
    # inherits SIGINT *ignored* (POSIX, for background jobs without job control), and then a
    # Ctrl-C sent to the group stopped the ranks while this launcher reported torchrun's 1.
    with handling_signals({signal.SIGINT: lambda signum, frame: interrupted.append(signum)}):
        process = start_child(command)
        code = process.wait()  # the handler returns, so the wait simply goes on
    if interrupted:
        return 128 + signal.SIGINT
    return code if code >= 0 else 128 - code


SignalHandler = Callable[[int, Any], None]


@contextmanager
def handling_signals(handlers: Mapping[int, SignalHandler]) -> Iterator[None]:
    """While the block runs, ``handlers`` answer their signals; the previous handlers come
    back afterwards, however the block ends."""
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
