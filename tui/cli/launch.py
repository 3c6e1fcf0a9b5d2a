"""``llmv0 train`` on several processes and machines: torchrun's command line, ``--resume auto``.

One machine: ``--nproc N`` runs torchrun ``--standalone``. Several: the same command on each
machine with ``--nnodes M --rdzv-endpoint HOST:PORT`` (torchrun's c10d rendezvous, hosted by
the machine at HOST); ``--node-rank R`` instead fixes each machine's place (torchrun's static
rendezvous), so global rank 0, the one that writes the run folder, is on machine 0.
``--resume auto`` continues the named run from its latest checkpoint when it has one, so a
torchrun restart (``--max-restarts``) or a scheduler's requeue carries on instead of starting
over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from engine.errors import UserError

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


class LaunchError(UserError, ValueError):
    """The launch options cannot work together (the message says what to change)."""


def needs_launcher(nproc: int, nnodes: int) -> bool:
    """Whether training runs under torchrun rather than in this process."""
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
    launch = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}"]
    if nnodes == 1 and rdzv_endpoint is None:
        launch.append("--standalone")
    else:
        if not rdzv_endpoint or ":" not in rdzv_endpoint:
            raise LaunchError(
                "--nnodes > 1 needs --rdzv-endpoint HOST:PORT, an address and free port of one "
                "of the machines that all of them can reach (the same on every machine)."
            )
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


# torchrun's c10d rendezvous shares one key-value store across restarts by default, and the
# restarted workers' gloo group then reads the addresses the killed workers published: the
# survivor connects to a dead port ("Connection refused") or waits for ever. Opting out gives
# every rendezvous round a fresh store (hosted by its rank 0). Seen on torch 2.13; the
# killed-node test in tests/e2e/test_multinode.py failed about one run in two without it.
FRESH_STORE_ENV = "TORCH_DISABLE_SHARE_RDZV_TCP_STORE"


def launcher_env() -> dict[str, str]:
    """The environment torchrun runs in: this one, with a fresh store per rendezvous round
    (unless the user chose otherwise)."""
    return {FRESH_STORE_ENV: "1", **os.environ}


def run_launcher(command: list[str]) -> int:
    """Run torchrun in the foreground and return its exit code (130 after Ctrl-C).

    Ctrl-C reaches the training processes directly (same terminal), and they stop with a
    checkpoint; this process only waits for them instead of killing them mid-save.
    """
    interrupted = False

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    # Our own handler, not Python's default: a process started in the background by a script
    # inherits SIGINT *ignored* (POSIX, for background jobs without job control), and then a
    # Ctrl-C sent to the group stopped the ranks while this launcher reported torchrun's 1.
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        process = subprocess.Popen(command, env=launcher_env())
        code = process.wait()  # the handler returns, so the wait simply goes on
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        return 128 + signal.SIGINT
    return code if code >= 0 else 128 - code
