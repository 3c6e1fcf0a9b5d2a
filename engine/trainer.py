"""Trainer: owns the model, optimizer and schedule of one run and publishes its events.

``Trainer(config).run(sink, control)`` loops until the run completes, is stopped, stops early
or fails, and returns the terminal event. Commands from ``control`` are applied between
optimizer steps. User errors (a bad corpus, an unusable device, a diverging loss, a full
disk) end the run with ``RunFailed`` and a one-paragraph explanation; ``run`` never raises
for them. Every event also goes to the run folder's ``events.jsonl``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine import checkpoint as ckpt
from engine import distributed as dist
from engine import events as ev
from engine.budget import Clock, RunClock
from engine.compile_policy import signature as compile_signature
from engine.config import RunConfig, save_config
from engine.control import Control
from engine.data import EpochBatches, Progress
from engine.device import autocast, configure_cpu, maybe_compile, select_device, select_dtype
from engine.events import Event, Sink
from engine.lock import RunLock, RunLockedError
from engine.models import count_parameters
from engine.optim import lr_at
from engine.remote import CommandFile
from engine.run_ids import check_run_id
from engine.run_setup import (
    build_state,
    failure_message,
    new_run_id,
    open_resume,
    prepare_data,
)
from engine.run_timing import RunTiming
from engine.runlog import EVENTS_FILE, RunLog
from engine.threads import ThreadTuner, usable_cores
from engine.tokenizer import Tokenizer
from engine.trainer_actions import TrainerActions, _Stop

log = logging.getLogger(__name__)

COMPILING = "compiling the model (torch.compile, first step; not counted as training time)"


class Trainer(TrainerActions):
    """One training run. Create it, then call :meth:`run` once (from any thread).

    Args:
        config: the run's hyperparameters; with ``resume``, None means the checkpoint's.
        runs_dir: parent of run folders.
        run_id: folder name for a new run (default: timestamp and model).
        resume: run id, run folder or .pt file to continue from (latest.pt of a folder).
        data_dir: corpus cache (default ./data or $LLMV0_DATA_DIR).
        download_progress: callback for the corpus download.
        clock: seconds from any origin for the run's timing and time budget (default
            time.perf_counter; tests pass a fake to make budgeted runs deterministic).
    """

    def __init__(
        self,
        config: RunConfig | None = None,
        runs_dir: Path | str = "checkpoints",
        run_id: str | None = None,
        resume: str | Path | None = None,
        data_dir: Path | None = None,
        download_progress: Progress | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock_fn = clock
        self.runs_dir = Path(runs_dir)
        self.data_dir = data_dir
        self.download_progress = download_progress
        self._resume_payload: dict[str, Any] | None = None
        if resume is not None:
            self.config, payload, self.run_dir = open_resume(resume, config, self.runs_dir)
            self._resume_payload = payload
            self.run_id = str(payload.get("run_id") or self.run_dir.name)
        else:
            self.config = config or RunConfig()
            self.run_id = check_run_id(run_id) if run_id else new_run_id(self.config, self.runs_dir)
            self.run_dir = self.runs_dir / self.run_id
        self.dist = dist.from_env()
        self._lock = threading.Lock()
        self._model: nn.Module | None = None
        self.tokenizer: Tokenizer | None = None
        self.step = 0

    # ----- public API for consumers on other threads -----

    def snapshot(self) -> tuple[nn.Module, Tokenizer] | None:
        """A copy of the live model (eval mode) and tokenizer, taken between steps."""
        with self._lock:
            if self._model is None or self.tokenizer is None:
                return None
            model = copy.deepcopy(ckpt.unwrap(self._model))
        model.eval()
        return model, self.tokenizer

    # ----- the run -----

    def run(self, sink: Sink | None = None, control: Control | None = None) -> Event:
        """Train until done; return the terminal event (RunFinished or RunFailed)."""
        self._t0 = time.perf_counter()
        timing_state = (self._resume_payload or {}).get("timing") or {}
        self.clock = RunClock(self._clock_fn, timing_state.get("clock"))
        self._timing_state = timing_state
        self.control = control or Control()
        self._user_sink = sink
        self._runlog: RunLog | None = None
        self._extra_sinks: list[Sink] = []
        self._run_lock: RunLock | None = None
        self._commands: CommandFile | None = None
        try:
            if self.dist.enabled:  # join the group first: rank 0 names the run for all ranks
                self.device = dist.init(self.dist, select_device(self.config.device))
                if self._resume_payload is None:
                    self.run_id = dist.broadcast_text(self.run_id, self.dist)
                    self.run_dir = self.runs_dir / self.run_id
            if self.dist.is_main and not self._open_run_folder():
                return self._fail(self._lock_error)
            self._setup()
            return self._loop()
        except Exception as exc:
            return self._fail(failure_message(exc, self.run_dir, self.run_id))
        finally:
            for extra in self._extra_sinks:
                close = getattr(extra, "close", None)
                if close is not None:
                    close()
            if self._runlog is not None:
                self._runlog.close()
            if self._run_lock is not None:
                self._run_lock.release()
            dist.shutdown(self.dist)

    def _open_run_folder(self) -> bool:
        """Take the run folder's lock and open its log; False when another trainer has it."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = RunLock(self.run_dir)
        try:
            lock.acquire()
        except RunLockedError as exc:
            # Reported to the caller only: events.jsonl belongs to the other trainer.
            self._lock_error = str(exc)
            return False
        self._run_lock = lock
        for leftover in self.run_dir.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)  # a save killed mid-write; we hold the lock
        self._runlog = RunLog(self.run_dir / EVENTS_FILE)
        self._commands = CommandFile(self.run_dir)
        return True

    def _publish(self, event: Event) -> None:
        """To the run log and extra sinks (main rank only), then to the caller's sink."""
        if self._runlog is not None:
            self._runlog(event)
        for extra in self._extra_sinks:
            extra(event)
        if self._user_sink is not None:
            try:
                self._user_sink(event)
            except Exception:  # a broken consumer must not kill training
                log.exception("event sink raised on %s", event.type)

    def _fail(self, message: str) -> ev.RunFailed:
        event = ev.RunFailed(error=message, step=self.step, elapsed_s=self._elapsed())
        self._publish(event)
        return event

    def _elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def _setup(self) -> None:
        cfg = self.config
        self.device = dist.init(self.dist, select_device(cfg.device))
        self.dtype = select_dtype(cfg, self.device)
        cpu_note = None
        if self.device.type == "cpu":
            threads = cfg.num_threads
            if threads == 0 and self.dist.enabled:  # ranks on one machine share its cores
                threads = max(1, (os.cpu_count() or 1) // self.dist.local_world_size)
            cpu_note = configure_cpu(threads)
            if threads == 0:
                cpu_note = "cpu threads: chosen by measuring training steps (1 to the cores)"
        torch.manual_seed(cfg.seed)
        payload = self._resume_payload
        saved_tokenizer = payload["tokenizer"] if payload is not None else None
        if self.dist.is_main:  # the main rank downloads the corpus; the others wait for it
            data = prepare_data(cfg, self.data_dir, self.download_progress, saved_tokenizer)
        dist.barrier(self.dist)
        if not self.dist.is_main:
            data = prepare_data(cfg, self.data_dir, None, saved_tokenizer)
        self.char_lengths = data.char_lengths
        self.train_tokens = data.train.to(self.device)
        self.val_tokens = data.val.to(self.device)
        # One global batch per step; each rank trains on its slice of it (engine.distributed).
        global_batch = cfg.batch_size * self.dist.world_size
        self.batches = EpochBatches(self.train_tokens, cfg.seq_length, global_batch, cfg.seed)
        self.total_steps = cfg.max_steps or cfg.epochs * self.batches.steps_per_epoch

        state = build_state(cfg, data.tokenizer.vocab_size, self.device, self.dtype, payload)
        self.optimizer, self.scaler = state.optimizer, state.scaler
        self.step, self.best_val_loss = state.step, state.best_val_loss
        dist.check_same_step(self.step, self.dist, self.device)
        self.evals_since_best = state.evals_since_best
        self.base_lr = cfg.learning_rate
        notes = [f"precision: {str(self.dtype).removeprefix('torch.')}"]
        if cpu_note:
            notes.append(cpu_note)
        if payload is not None:
            notes.append(f"resumed from step {self.step}")
        model: nn.Module = state.model
        if self.dist.enabled:
            model = DistributedDataParallel(model)
            notes.append(
                f"data parallel: {self.dist.world_size} processes, global batch {global_batch}"
            )
        compiled, note = maybe_compile(model, cfg, self.device)
        if note:
            notes.append(note)
        with self._lock:
            self._raw_model = state.model
            self._model = compiled
            self.tokenizer = data.tokenizer
        if self.dist.is_main:
            save_config(cfg, self.run_dir / "config.json")
        windows = (len(data.val) - 1) // cfg.seq_length
        windows = min(windows, cfg.eval_max_windows or windows)
        self.timing = RunTiming(
            cfg, self.clock, self._timing_state, compiled=compiled is not model,
            eval_windows=2 * windows,  # validation, then as many training windows
        )  # fmt: skip

        if self.timing.budget is not None:
            self.total_steps = cfg.max_steps  # 0: the deadline decides
        # A CompiledModel compiles only if the run is long enough to repay it (ranks of a
        # data-parallel run could decide differently, so they compile at once as before).
        if hasattr(compiled, "decide") and not self.dist.enabled:
            dtype_name = str(self.dtype).removeprefix("torch.")
            signature = compile_signature(cfg, dtype_name, self.device.type)
            self.timing.defer_compile(compiled.decide, signature, dtype_name)
            compiled.decide(False)
        if self.device.type == "cpu" and cfg.num_threads == 0 and not self.dist.enabled:
            self.timing.threads = ThreadTuner(torch.set_num_threads, usable_cores(), time.monotonic)
        self._publish(
            ev.RunStarted(
                run_id=self.run_id,
                config=cfg.model_dump(),
                n_params=count_parameters(state.model),
                device=str(self.device),
                dtype=str(self.dtype).removeprefix("torch."),
                total_steps=self.total_steps,
                steps_per_epoch=self.batches.steps_per_epoch,
                vocab_size=data.tokenizer.vocab_size,
                train_tokens=len(data.train),
                val_tokens=len(data.val),
                start_step=self.step,
                resumed=payload is not None,
                run_dir=str(self.run_dir),
                notes=tuple(notes),
            )
        )
        self._resume_payload = None  # free the tensors
        if cfg.log_tensorboard and self.dist.is_main:
            self._start_tensorboard()

    def _start_tensorboard(self) -> None:
        from engine.tensorboard import TENSORBOARD_DIR, TensorBoardMissing, TensorBoardSink

        try:
            self._extra_sinks.append(TensorBoardSink(self.run_dir / TENSORBOARD_DIR))
        except TensorBoardMissing as exc:
            self._publish(ev.RunWarning(message=str(exc), step=self.step))

    def _loop(self) -> Event:
        spe = self.batches.steps_per_epoch
        epoch_losses: list[float] = []
        timing = self.timing
        reason = "completed"
        try:
            done = self._time_decisions()[0]
            if done and timing.budget is not None and self.step > 0:
                self._evaluate_and_save()  # resumed past its deadline: the final evaluation
            while not done:
                self._sync_commands()
                if timing.compile_pending:
                    self._publish(ev.RunNotice("compiling", COMPILING, self.step))
                began = timing.clock.now()
                loss, grad_norm, lr = self._train_step()
                if not math.isfinite(loss):
                    return self._fail(
                        f"The loss became {loss} at step {self.step + 1}: training diverged. "
                        f"The last good checkpoint in {self.run_dir} is kept. Lower "
                        f"learning_rate (now {self.base_lr:g}), keep grad_clip > 0 or add "
                        "warmup_steps, then start again or resume."
                    )
                self.step += 1
                cfg = self.config  # live fields may have changed between steps
                tokens = cfg.batch_size * cfg.seq_length * cfg.grad_accum_steps
                tokens *= self.dist.world_size
                seconds = timing.clock.now() - began
                for kind, note in timing.step_done(seconds, tokens, self.step, self.total_steps):
                    self._publish(ev.RunNotice(kind, note, self.step))
                epoch_losses.append(loss)
                if timing.calibration_due():  # the final evaluation must fit in the budget
                    timing.calibrate(self._time_eval)
                self._publish(
                    ev.StepCompleted(
                        step=self.step,
                        epoch=(self.step - 1) // spe,
                        loss=loss,
                        lr=lr,
                        tokens_per_s=timing.pace.tokens_per_s,
                        grad_norm=grad_norm,
                        elapsed_s=self._elapsed(),
                        total_steps=timing.total_steps_estimate(self.step, self.total_steps),
                        eta_s=timing.eta_s(self.step, self.total_steps),
                        progress=timing.progress(self.step),
                    )
                )
                if self.step % spe == 0:
                    mean = sum(epoch_losses) / max(len(epoch_losses), 1)
                    self._publish(ev.EpochCompleted(self.step // spe, self.step, mean))
                    epoch_losses = []
                done, by_time, save_by_time = self._time_decisions()
                if self.step % cfg.eval_interval == 0 or by_time or done:
                    began = timing.clock.now()
                    if self._evaluate_and_save():
                        reason = "early_stopping"
                        break
                    timing.evaluated(timing.clock.now() - began)
                elif (
                    cfg.checkpoint_interval and self.step % cfg.checkpoint_interval == 0
                ) or save_by_time:
                    self._save("latest")
        except _Stop:
            self._save("latest")
            reason = "stopped"
        event = ev.RunFinished(
            reason=reason,
            step=self.step,
            best_val_loss=self.best_val_loss,
            elapsed_s=self._elapsed(),
        )
        self._publish(event)
        return event

    def _time_decisions(self) -> tuple[bool, bool, bool]:
        def agree(values: list[float]) -> list[float]:  # rank 0's answers on every rank
            return dist.broadcast(values, self.dist, self.device)

        return self.timing.decisions(self.step, self.total_steps, agree)

    def _train_step(self) -> tuple[float, float, float]:
        """One optimizer step over this rank's slice of the global batch."""
        cfg = self.config
        progress = self.timing.progress(self.step)
        if progress is not None:  # every rank follows rank 0's clock
            [progress] = dist.broadcast([progress], self.dist, self.device)
        lr = lr_at(self.step, cfg, self.total_steps, self.base_lr, progress)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        model = self._model
        assert model is not None
        rank_rows = slice(self.dist.rank * cfg.batch_size, (self.dist.rank + 1) * cfg.batch_size)
        with self._lock:
            model.train()
            total = 0.0
            for micro in range(cfg.grad_accum_steps):
                x, y = self.batches.batch(self.step * cfg.grad_accum_steps + micro)
                last_micro = micro == cfg.grad_accum_steps - 1
                # DDP averages gradients only on the last micro-batch of the step.
                skip_sync = self.dist.enabled and not last_micro
                with model.no_sync() if skip_sync else contextlib.nullcontext():
                    with autocast(self.device, self.dtype):
                        _, loss = model(x[rank_rows], y[rank_rows])
                    self.scaler.scale(loss / cfg.grad_accum_steps).backward()
                total += float(loss.detach())
            self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            max_norm = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
            [loss_sum] = dist.all_reduce_sum([total / cfg.grad_accum_steps], self.dist, self.device)
            loss_value = loss_sum / self.dist.world_size
            if math.isfinite(loss_value):
                self.scaler.step(self.optimizer)
                self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
        return loss_value, grad_norm, lr
