"""A run's start-up: device, threads, seed and corpus; the run folder's lock and log; timing.

Plain functions that take their inputs and return what they made, so that
:class:`~engine.train.trainer.Trainer` reads as its loop. Everything that can fail on the user's
inputs (:func:`prepare_run`) happens before the run folder is touched.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine import events as ev
from engine.config.schema import RunConfig
from engine.models import count_parameters
from engine.run.lock import RunLock
from engine.run.log import RunLog
from engine.runtime import distributed as dist
from engine.runtime.compile_policy import signature as compile_signature
from engine.runtime.device import configure_cpu, maybe_compile, select_device, select_dtype
from engine.runtime.threads import ThreadTuner, usable_cores
from engine.text.corpus import Progress
from engine.train.budget import RunClock
from engine.train.outlet import EventOutlet
from engine.train.phases import Phases
from engine.train.setup import RunData, prepare_data
from engine.train.timing import RunTiming


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare_run` made: the device, its dtype, the corpus, a CPU-threads note."""

    device: torch.device
    dtype: torch.dtype
    data: RunData
    cpu_note: str | None


def prepare_run(
    cfg: RunConfig,
    group: dist.DistInfo,
    data_dir: Path | None,
    progress: Progress | None,
    saved_tokenizer: dict | None,
    phases: Phases | None = None,
) -> Prepared:
    """Device, CPU threads, seed and the corpus: everything that can fail on the user's
    inputs, done before the run folder is touched.

    Args:
        cfg: the run's config.
        group: the data-parallel group (disabled for a single process).
        data_dir: corpus cache (None: the default).
        progress: callback for the corpus download (main rank only).
        saved_tokenizer: a resumed run's tokenizer, so the vocabulary stays the same.
        phases: names the long phases and gives them up when a stop comes (raising
            engine.control.Cancelled); None: silent and unstoppable.
    """
    device = dist.init(group, select_device(cfg.device))
    dtype = select_dtype(cfg, device)
    cpu_note = None
    if device.type == "cpu":
        threads = cfg.num_threads
        if threads == 0 and group.enabled:  # ranks on one machine share its cores
            threads = max(1, (os.cpu_count() or 1) // group.local_world_size)
        cpu_note = configure_cpu(threads)
        if threads == 0:
            cpu_note = "cpu threads: chosen by measuring training steps (1 to the cores)"
    torch.manual_seed(cfg.seed)
    if group.is_main:  # the main rank downloads the corpus; the others wait for it
        data = prepare_data(cfg, data_dir, progress, saved_tokenizer, phases)
    dist.barrier(group)
    if not group.is_main:
        data = prepare_data(cfg, data_dir, None, saved_tokenizer, phases)
    return Prepared(device, dtype, data, cpu_note)


def open_run_folder(run_dir: Path, events_path: Path) -> tuple[RunLock, RunLog]:
    """Take the run folder's lock and open its event log.

    Raises:
        RunLockedError: another trainer has it (reported to the caller only: the
            folder's log belongs to that trainer).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(run_dir)
    lock.acquire()
    for leftover in run_dir.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)  # a save killed mid-write; we hold the lock
    return lock, RunLog(events_path)


def start_notes(dtype: torch.dtype, cpu_note: str | None, resumed_step: int | None) -> list[str]:
    """RunStarted's first notes: precision, CPU threads, where a resumed run picks up."""
    notes = [f"precision: {str(dtype).removeprefix('torch.')}"]
    if cpu_note:
        notes.append(cpu_note)
    if resumed_step is not None:
        notes.append(f"resumed from step {resumed_step}")
    return notes


def start_timing(
    cfg: RunConfig,
    clock: RunClock,
    saved: dict,
    data: RunData,
    model: nn.Module,
    compiled: bool,
    group: dist.DistInfo,
    device: torch.device,
    dtype: torch.dtype,
) -> RunTiming:
    """Pace, ETA and time budget; a deferred compile; the CPU thread tuner.

    Args:
        cfg: the run's config.
        clock: the run's clock (paused while the run is).
        saved: a resumed run's timing state ({} for a new run).
        data: the prepared corpus (its validation size sets the evaluation's cost).
        model: what trains; a CompiledModel may defer its compile to the timing's decision.
        compiled: whether ``model`` is a compiled wrapper.
        group: the data-parallel group.
        device: the training device.
        dtype: the training dtype.
    """
    windows = (len(data.val) - 1) // cfg.seq_length
    windows = min(windows, cfg.eval_max_windows or windows)
    timing = RunTiming(
        cfg, clock, saved, compiled=compiled,
        eval_windows=2 * windows,  # validation, then as many training windows
    )  # fmt: skip
    # A CompiledModel compiles only if the run is long enough to repay it (ranks of a
    # data-parallel run could decide differently, so they compile at once as before).
    if hasattr(model, "decide") and not group.enabled:
        dtype_name = str(dtype).removeprefix("torch.")
        signature = compile_signature(cfg, dtype_name, device.type)
        timing.defer_compile(model.decide, signature, dtype_name)
        model.decide(False)
    if device.type == "cpu" and cfg.num_threads == 0 and not group.enabled:
        timing.threads = ThreadTuner(torch.set_num_threads, usable_cores(), time.monotonic)
    return timing


def numerics_state(timing: RunTiming, model: nn.Module) -> dict[str, Any]:
    """The choices a checkpoint keeps because they change a step's numbers: the thread
    tuner's state (the count changes float sums) and the compile decision (compiled kernels
    round differently), each only when this run made it."""
    state: dict[str, Any] = {}
    if timing.threads is not None:
        state["threads"] = timing.threads.state_dict()
    if hasattr(model, "decide") and timing.compile_switch is None:
        state["compiled"] = bool(model.active)
        if timing.compile_pending and not getattr(timing, "recompile", False):
            state["compile_pending"] = True  # decided, its compile step not yet taken
    return state


def restore_numerics(timing: RunTiming, model: nn.Module, saved: dict[str, Any]) -> list[str]:
    """Resume with the thread count and compile decision of the checkpoint (see
    :func:`numerics_state`), before the first step, so the resumed steps compute exactly
    what the uninterrupted run's did. Returns notes for RunStarted."""
    notes = []
    tuner = timing.threads
    if tuner is not None and "threads" in saved:
        if tuner.restore(saved["threads"]):
            what = "measuring" if tuner.probing else "measured again when the speed drifts"
            notes.append(f"cpu threads: {tuner.in_use}, as before the resume ({what})")
        else:
            notes.append("cpu threads: measured afresh (the checkpoint's were for other cores)")
    decided = saved.get("compiled")
    if isinstance(decided, bool) and timing.compile_switch is not None:
        timing.compile_switch = None  # decided before the resume: no eager re-timing
        model.decide(decided)
        timing.compile_pending = decided
        # Compiled before the save (not only decided): the saved run's tuner already
        # measured compiled steps, so this process's compile must not restart it.
        timing.recompile = decided and saved.get("compile_pending") is not True
        notes.append(f"compile: {'compiled' if decided else 'eager'}, as before the resume")
    return notes


def wrap_model(
    model: nn.Module, cfg: RunConfig, group: dist.DistInfo, device: torch.device, notes: list[str]
) -> tuple[nn.Module, bool]:
    """What trains: DDP when the run is data-parallel, then torch.compile when the config
    asks. Appends a note for each to ``notes``; returns the model and whether it is a
    compiled wrapper."""
    wrapped = model
    if group.enabled:
        wrapped = DistributedDataParallel(model)
        # One global batch per step; each rank trains on its slice of it
        # (engine.runtime.distributed).
        global_batch = cfg.batch_size * group.world_size
        notes.append(f"data parallel: {group.world_size} processes, global batch {global_batch}")
    compiled, note = maybe_compile(wrapped, cfg, device)
    if note:
        notes.append(note)
    return compiled, compiled is not wrapped


def started_event(
    *,
    run_id: str,
    cfg: RunConfig,
    model: nn.Module,
    data: RunData,
    device: torch.device,
    dtype: torch.dtype,
    total_steps: int,
    steps_per_epoch: int,
    start_step: int,
    resumed: bool,
    run_dir: Path,
    notes: list[str],
) -> ev.RunStarted:
    """The run's first event: what trains, on what, for how long, from which step."""
    return ev.RunStarted(
        run_id=run_id,
        config=cfg.model_dump(),
        n_params=count_parameters(model),
        device=str(device),
        dtype=str(dtype).removeprefix("torch."),
        total_steps=total_steps,
        steps_per_epoch=steps_per_epoch,
        vocab_size=data.tokenizer.vocab_size,
        train_tokens=len(data.train),
        val_tokens=len(data.val),
        start_step=start_step,
        resumed=resumed,
        run_dir=str(run_dir),
        notes=tuple(notes),
    )


def start_tensorboard(outlet: EventOutlet, run_dir: Path, step: int) -> None:
    """Add a TensorBoard sink for the run folder to ``outlet``, or publish why it can't."""
    from engine.run.folder import RunFolder
    from engine.run.tensorboard import TensorBoardMissing, TensorBoardSink

    try:
        outlet.extra.append(TensorBoardSink(RunFolder(run_dir).tensorboard_path))
    except TensorBoardMissing as exc:
        outlet(ev.RunWarning(message=str(exc), step=step))
