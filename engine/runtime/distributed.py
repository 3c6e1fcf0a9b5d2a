"""Data-parallel training across processes (torchrun): rank facts and the few collectives used.

Each process reads RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE from its environment
(``llmv0 train --nproc N``, optionally ``--nnodes``). Rank 0 names the run and alone writes
its folder; every rank reads a checkpoint to resume. ``batch_size`` is per rank: rank r trains
on its slice of the global batch a single process would draw, so the loss curve matches a
single-process run at the same global batch. Backends: NCCL on CUDA, gloo on CPU.

Every rank logs one line when it has joined the group and one when it leaves (how: finished,
stopped, failed), so each machine of a multi-node run says what it does; the CLI shows them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)

# Set by llmv0's launcher (tui.cli.launch.RENDEZVOUS_ENV): torchrun does not tell its workers
# how they met. By hand, the line names the group's store (MASTER_ADDR:MASTER_PORT) instead.
RENDEZVOUS_ENV = "LLMV0_RENDEZVOUS"


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a data-parallel job (rank 0 of 1 when alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1  # ranks on this machine: they share its CPU cores
    node_rank: int = 0  # this machine's place among the job's machines (torchrun's GROUP_RANK)
    nodes: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main rank writes checkpoints, the run log and the run lock."""
        return self.rank == 0


def from_env() -> DistInfo:
    """Read the torchrun environment; a plain process is rank 0 of 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(
        rank=int(os.environ.get("RANK", "0")),
        world_size=world,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        # torchrun sets it; other launchers may not, and then all ranks count as local
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", str(world))),
        node_rank=int(os.environ.get("GROUP_RANK", "0")),
        nodes=int(os.environ.get("GROUP_WORLD_SIZE", "1")),
    )


def describe(info: DistInfo) -> str:
    """This rank's place in words, for its join and leave lines."""
    return (
        f"rank {info.rank} of {info.world_size} on node {info.node_rank} of {info.nodes} "
        f"({socket.gethostname()}, local rank {info.local_rank} of {info.local_world_size})"
    )


def rendezvous() -> str:
    """How the ranks met: the launcher's words, else the group's store address."""
    said = os.environ.get(RENDEZVOUS_ENV)
    if said:
        return said
    host, port = os.environ.get("MASTER_ADDR", "?"), os.environ.get("MASTER_PORT", "?")
    return f"store at {host}:{port}"


def init(info: DistInfo, device: torch.device) -> torch.device:
    """Join the process group (once) and return this rank's device."""
    if not info.enabled:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        log.info("%s joined, rendezvous %s, backend %s", describe(info), rendezvous(), backend)
    return device


def all_reduce_sum(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (identity when alone)."""
    if not info.enabled:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def broadcast(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Rank 0's ``values`` on every rank (identity when alone)."""
    if not info.enabled:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return tensor.tolist()


def broadcast_text(text: str, info: DistInfo) -> str:
    """Rank 0's ``text`` on every rank (identity when alone): one run id for the whole job,
    however each machine's launcher named it."""
    if not info.enabled:
        return text
    box: list[object] = [text]
    dist.broadcast_object_list(box, src=0)
    return str(box[0])


def check_same_step(step: int, info: DistInfo, device: torch.device) -> None:
    """Raise unless every rank starts from the same step (a resume every rank can see).

    Every rank loads the checkpoint itself, so a run folder that is not on a filesystem all
    machines share makes ranks start from different states; say so instead of diverging.
    """
    if not info.enabled:
        return
    [low] = all_reduce_min([float(step)], info, device)
    [high] = all_reduce_min([-float(step)], info, device)
    if low != -high:
        raise RuntimeError(
            f"the ranks start from different steps ({int(low)} to {int(-high)}): every machine "
            "must see the same run folder (put --runs-dir on a shared filesystem)"
        )


def all_reduce_min(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Element-wise minimum of ``values`` over all ranks (identity when alone)."""
    if not info.enabled:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return tensor.tolist()


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


def shutdown(info: DistInfo, how: str = "finished") -> None:
    """Leave together, and say ``how`` (finished, stopped, failed): a rank that tears gloo
    down while its peer still writes the final checkpoint can make the peer's transport
    threads abort (seen once in CI as SIGABRT, "terminate called without an active
    exception")."""
    if info.enabled and dist.is_initialized():
        with contextlib.suppress(Exception):  # a peer already gone: just leave
            dist.barrier()
        log.info("%s left: %s", describe(info), how)
        dist.destroy_process_group()
