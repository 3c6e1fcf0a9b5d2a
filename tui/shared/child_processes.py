"""Child processes that die with their parent (Linux ``PR_SET_PDEATHSIG``).

A process group alone does not do it: torchrun starts each worker in a session of its own,
the served dashboards run in their own groups, and a launcher killed with SIGKILL cannot
pass anything on. So every child the launchers start asks the kernel for a signal when its
parent dies: SIGTERM, which torchrun turns into stopping its workers, and which a trainer
turns into a stop with a checkpoint. Elsewhere (macOS, Windows) this does nothing; the
launchers still stop their children when they end normally.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # no libc prctl (musl without it, a sandbox)
        return None


def dies_with_this_process(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets ``sig`` when this process
    dies, however it dies. None where the kernel cannot do it.

    The signal is tied to the *thread* that starts the child, so start children from the
    main thread (the launchers do).
    """
    prctl = _prctl()  # looked up before the fork: the child only makes the call
    if prctl is None:
        return None
    parent = os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request: act on it now
            os.kill(os.getpid(), sig)

    return in_child


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask for ``sig`` when this process's parent dies (a torchrun rank: when its torchrun
    agent is killed, the rank stops with a checkpoint instead of training on alone).
    Returns whether the kernel took the request."""
    prctl = _prctl()
    return prctl is not None and prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
