"""Trainer: owns the model, optimizer and schedule of one run and publishes its events.

``Trainer(config).run(sink, control)`` loops until the run completes, is stopped, stops early
or fails, and returns the terminal event. It is built from a
:class:`~engine.train.commands.CommandHandler`, an :class:`~engine.train.evaluator.Evaluator`,
a :class:`~engine.train.checkpointer.Checkpointer` and one
:class:`~engine.train.state.TrainState`. User errors end the run with ``RunFailed`` and an
explanation (``run`` never raises for them); every event also goes to the run's event log.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from pathlib import Path

import torch
from torch import nn

from engine import events as ev
from engine.analysis import timeline
from engine.analysis.evaluate import evaluate
from engine.config.schema import RunConfig
from engine.control import Cancelled, Control
from engine.events import Event, Sink
from engine.run import checkpoint as ckpt
from engine.run.commands_file import CommandFile
from engine.run.folder import RunFolder, folder_for_id
from engine.run.lock import RunLock
from engine.runtime import distributed as dist
from engine.runtime.device import select_device
from engine.text.corpus import EpochBatches, Progress
from engine.text.tokenizer import Tokenizer
from engine.train import start as run_start
from engine.train.budget import Clock, RunClock
from engine.train.checkpointer import Checkpointer
from engine.train.commands import CommandHandler, StopRequested
from engine.train.evaluator import Evaluator, sample_now
from engine.train.optim import Schedule, default_schedule
from engine.train.outlet import EventOutlet
from engine.train.phases import Phases
from engine.train.setup import (
    ModelState,
    RunData,
    build_state,
    diverged_message,
    failure_message,
    new_run_id,
    open_resume,
    refuse_used_folder,
)
from engine.train.state import TrainState
from engine.train.step import train_step
from engine.train.timing import RunTiming

COMPILING = "compiling the model (torch.compile, first step; not counted as training time)"


class Trainer:
    """One training run. Create it, then call :meth:`run` once (from any thread).

    Args:
        config: the run's hyperparameters; with ``resume``, None means the checkpoint's.
        runs_dir: parent of run folders.
        run_id: folder name for a new run (default: timestamp and model); refused when that
            folder already holds a run.
        resume: run id, run folder or .pt file to continue from (latest.pt of a folder).
        data_dir: corpus cache (default ./data or $LLMV0_DATA_DIR).
        download_progress: callback for the corpus download.
        schedule: the learning rate for the trainer's progress (default: warmup, then the
            config's schedule).
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
        schedule: Schedule = default_schedule,
        clock: Clock | None = None,
    ) -> None:
        self._clock_fn = clock
        self.runs_dir = Path(runs_dir)
        self.data_dir = data_dir
        self.download_progress = download_progress
        self.schedule = schedule
        self._resume_payload: dict | None = None
        self._resume_notes: list[str] = []  # config.json edits a resume applied
        self._started_config: dict = {}  # what this session wrote to config.json
        if resume is not None:
            resumed = open_resume(resume, config, self.runs_dir)
            self.config, self._resume_payload = resumed.config, resumed.payload
            self.run_dir, self._resume_notes = resumed.run_dir, resumed.notes
            self.run_id = str(self._resume_payload.get("run_id") or self.run_dir.name)
        else:
            self.config = config or RunConfig()
            self.run_id = run_id or new_run_id(self.config, self.runs_dir)
            # Always an id, never a path: the run must not write outside the runs folder.
            self.run_dir = folder_for_id(self.run_id, self.runs_dir).path
        self.folder = RunFolder(self.run_dir)
        self.dist = dist.from_env()
        if resume is None and self.dist.is_main:
            refuse_used_folder(self.folder)
        self.error: BaseException | None = None  # what ended the run, when it failed
        self.cancelled: Cancelled | None = None  # a stop before the first step, nothing kept
        self._left = "aborted"  # how this rank leaves its group: its leave line says it
        self.state = TrainState()
        self.total_steps = 0
        self.tokenizer: Tokenizer | None = None
        # Set up by run(): the parts, the device, the model and its optimizer.
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.parts: ModelState | None = None
        self.batches: EpochBatches | None = None
        self.evaluator: Evaluator | None = None
        self.checkpointer = Checkpointer(self.folder, self.run_id, self.dist, self._publish)
        self.commands: CommandHandler | None = None
        self._model: nn.Module | None = None  # what trains (maybe compiled or DDP-wrapped)
        self._raw_model: nn.Module | None = None  # the plain module that checkpoints save
        self._lock = threading.Lock()  # held while the weights change (snapshot waits)
        self._t0 = time.perf_counter()
        self._outlet = EventOutlet()  # the run log, TensorBoard, then the caller's sink
        self._run_lock: RunLock | None = None
        self._epoch_losses: list[float] = []
        # The run's clock (paused while the run is) and its timing: pace, ETA, time budget.
        self._timing_state: dict = (self._resume_payload or {}).get("timing") or {}
        self.clock = RunClock(self._clock_fn, self._timing_state.get("clock"))
        self.timing: RunTiming | None = None

    @property
    def step(self) -> int:
        """Optimizer steps completed."""
        return self.state.step

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
        self.clock = RunClock(self._clock_fn, self._timing_state.get("clock"))
        self._outlet.sink = sink
        control = control or Control()
        # The phases before the first step are named when slow and given up on a stop. Not
        # in a data-parallel run: the other ranks wait for rank 0 in a barrier no stop can
        # reach, so all of them stop together at the first step instead.
        phases = Phases(
            lambda text: self._publish(ev.RunNotice("preparing", text)),
            None if self.dist.enabled else control.stop_requested,
        )
        try:
            if self.dist.enabled:  # join the group first: rank 0 names the run for all ranks
                self._join_group()
            # Inputs first (device, corpus): a run that cannot start leaves no run folder.
            data, cpu_note = self._prepare(phases)
            # Before the run folder too, so that a stop during it leaves none (its first
            # call imports torch._dynamo: 2.4 s on a loaded 2-core machine).
            phases.begin("building the model")
            parts = build_state(
                self.config, data.tokenizer.vocab_size, self.device, self.dtype,
                self._resume_payload,
            )  # fmt: skip
            phases.begin("opening the run folder")  # a stop while preparing ends here
            phases.end()
            if self.dist.is_main:  # raises RunLockedError when another trainer has it
                self._run_lock, self._outlet.runlog = run_start.open_run_folder(
                    self.run_dir, self.folder.events_path
                )
            self._setup(data, cpu_note, control, parts)
            return self._train()
        except Cancelled as exc:  # before the run folder: nothing was written
            self.cancelled = exc
            message = f"{exc}, before the first step: nothing was saved"
            self._publish(ev.RunNotice("stopped", message, self.state.step))
            return self._finish("stopped")
        except Exception as exc:
            self.error = exc
            return self._fail(failure_message(exc, self.run_dir, self.run_id))
        finally:
            phases.end()
            self._close()

    def _train(self) -> Event:
        """The loop: apply commands, take a step, report it, evaluate and save when due."""
        cfg = self.config
        reason = "completed"
        try:
            done = self._time_decisions()[0]
            if done and self.timing.budget is not None and self.state.step > 0:
                self._evaluate_and_save(cfg)  # resumed past its deadline: the final evaluation
            while not done:
                cfg = self.config = self.commands.apply(cfg, self.state.step)
                loss, grad_norm, lr, seconds = self._step(cfg)
                if not math.isfinite(loss):
                    return self._fail(diverged_message(loss, self.state.step, cfg, self.run_dir))
                self.state.step += 1
                self._report_step(cfg, loss, grad_norm, lr, seconds)
                done, by_time, save_by_time = self._time_decisions()
                if self.state.step % cfg.eval_interval == 0 or by_time or done:
                    began = self.clock.now()
                    if self._evaluate_and_save(cfg):
                        reason = "early_stopping"
                        break
                    self.timing.evaluated(self.clock.now() - began)
                elif save_by_time or (
                    cfg.checkpoint_interval and self.state.step % cfg.checkpoint_interval == 0
                ):
                    self._save("latest", cfg)
        except StopRequested:
            self._save("latest", self.config)
            reason = "stopped"
        return self._finish(reason)

    def _time_decisions(self) -> tuple[bool, bool, bool]:
        """(done, evaluate now for the budget, save now for the budget), rank 0's on all."""

        def agree(values: list[float]) -> list[float]:
            return dist.broadcast(values, self.dist, self.device)

        return self.timing.decisions(self.state.step, self.total_steps, agree)

    # ----- before the first step -----

    def _join_group(self) -> None:
        """Join the data-parallel group; a new run takes rank 0's run id on every rank."""
        self.device = dist.init(self.dist, select_device(self.config.device))
        if self._resume_payload is None:
            self.run_id = dist.broadcast_text(self.run_id, self.dist)
            self.run_dir = folder_for_id(self.run_id, self.runs_dir).path
            self.folder = RunFolder(self.run_dir)
            self.checkpointer = Checkpointer(self.folder, self.run_id, self.dist, self._publish)

    def _prepare(self, phases: Phases) -> tuple[RunData, str | None]:
        """Device, threads, seed and corpus (engine.train.start.prepare_run)."""
        payload = self._resume_payload
        saved_tokenizer = payload["tokenizer"] if payload is not None else None
        prepared = run_start.prepare_run(
            self.config, self.dist, self.data_dir, self.download_progress, saved_tokenizer,
            phases,
        )  # fmt: skip
        self.device, self.dtype = prepared.device, prepared.dtype
        return prepared.data, prepared.cpu_note

    def _setup(
        self, data: RunData, cpu_note: str | None, control: Control, parts: ModelState
    ) -> None:
        """The parts, model and optimizer from the prepared data; publishes RunStarted."""
        cfg = self.config
        payload = self._resume_payload
        train_tokens, val_tokens = data.train.to(self.device), data.val.to(self.device)
        # One global batch per step; each rank trains on its slice of it
        # (engine.runtime.distributed).
        global_batch = cfg.batch_size * self.dist.world_size
        self.batches = EpochBatches(train_tokens, cfg.seq_length, global_batch, cfg.seed)
        self.total_steps = cfg.max_steps or cfg.epochs * self.batches.steps_per_epoch
        self.evaluator = Evaluator(
            val_tokens, train_tokens, data.char_lengths, dtype=self.dtype, dist=self.dist,
            device=self.device, steps_per_epoch=self.batches.steps_per_epoch,
            between_batches=self._between_eval_batches,
        )  # fmt: skip
        commands_file = CommandFile(self.run_dir) if self.dist.is_main else None
        self.commands = CommandHandler(
            control, commands_file, self.dist, self.device, publish=self._publish,
            save=lambda config: self._save("latest", config), sample=self._sample,
            pause=self.clock.pause, resume=self.clock.resume,
        )  # fmt: skip
        self.parts = parts
        self.state = self.parts.progress
        dist.check_same_step(self.state.step, self.dist, self.device)
        notes = run_start.start_notes(
            self.dtype, cpu_note, self.state.step if payload is not None else None
        )
        compiled, is_compiled = run_start.wrap_model(
            self.parts.model, cfg, self.dist, self.device, notes
        )
        with self._lock:
            self._raw_model = self.parts.model
            self._model = compiled
            self.tokenizer = data.tokenizer
        if self.dist.is_main:
            self.folder.save_config(cfg)
        # Kept in each checkpoint: a resume tells the user's edits of config.json from
        # the live changes made since (engine.train.setup.config_file_edits).
        self._started_config = cfg.model_dump()
        self.timing = run_start.start_timing(
            cfg, self.clock, self._timing_state, data, compiled, is_compiled,
            self.dist, self.device, self.dtype,
        )  # fmt: skip
        if payload is not None:  # the thread count and compile decision it trained with
            notes += run_start.restore_numerics(self.timing, compiled, payload)
            notes += self._resume_notes
        if self.timing.budget is not None:
            self.total_steps = cfg.max_steps  # 0: the deadline decides
        self._publish(
            run_start.started_event(
                run_id=self.run_id, cfg=cfg, model=self.parts.model, data=data,
                device=self.device, dtype=self.dtype, total_steps=self.total_steps,
                steps_per_epoch=self.batches.steps_per_epoch, start_step=self.state.step,
                resumed=payload is not None, run_dir=self.run_dir, notes=notes,
            )
        )  # fmt: skip
        self._resume_payload = None  # free the tensors
        if cfg.log_tensorboard and self.dist.is_main:
            run_start.start_tensorboard(self._outlet, self.run_dir, self.state.step)

    # ----- one step, and what follows it -----

    def _step(self, cfg: RunConfig) -> tuple[float, float, float, float]:
        """One optimizer step at the schedule's learning rate: loss, grad norm, lr, seconds."""
        progress = self.timing.progress(self.state.step)
        if progress is not None:  # every rank follows rank 0's clock
            [progress] = dist.broadcast([progress], self.dist, self.device)
        lr = self.schedule(self.state, self.total_steps, cfg, progress)
        if self.timing.compile_pending:
            self._publish(ev.RunNotice("compiling", COMPILING, self.state.step))
        began = self.clock.now()
        with self._lock:
            loss, grad_norm = train_step(
                self._model, self.parts, self.batches, cfg, self.state.step, lr,
                self.dist, self.device, self.dtype,
            )  # fmt: skip
        return loss, grad_norm, lr, self.clock.now() - began

    def _report_step(
        self, cfg: RunConfig, loss: float, grad_norm: float, lr: float, seconds: float
    ) -> None:
        """Timing notices, StepCompleted (and EpochCompleted at an epoch's end)."""
        timing, step, spe = self.timing, self.state.step, self.batches.steps_per_epoch
        tokens = cfg.batch_size * cfg.seq_length * cfg.grad_accum_steps * self.dist.world_size
        for kind, note in timing.step_done(seconds, tokens, step, self.total_steps):
            self._publish(ev.RunNotice(kind, note, step))
        self._epoch_losses.append(loss)
        if timing.calibration_due():  # the final evaluation must fit in the budget
            timing.calibrate(self._time_eval)
        self._publish(
            ev.StepCompleted(
                step=step, epoch=(step - 1) // spe, loss=loss, lr=lr,
                tokens_per_s=timing.pace.tokens_per_s, grad_norm=grad_norm,
                elapsed_s=self._elapsed(),
                total_steps=timing.total_steps_estimate(step, self.total_steps),
                eta_s=timing.eta_s(step, self.total_steps), progress=timing.progress(step),
            )
        )  # fmt: skip
        if step % spe == 0:
            mean = sum(self._epoch_losses) / len(self._epoch_losses)
            self._publish(ev.EpochCompleted(step // spe, step, mean))
            self._epoch_losses.clear()

    def _time_eval(self, windows: int) -> float:
        """Seconds to score ``windows`` validation windows as an evaluation does."""
        began = self.clock.now()
        with self._lock:
            evaluate(self._model, self.evaluator.val_tokens, self.config.seq_length,
                     max_windows=windows, dtype=self.dtype)  # fmt: skip
        return self.clock.now() - began

    def _between_eval_batches(self) -> None:
        """Between two batches of an evaluation: a pause or stop lands now. The snapshot lock
        is let go meanwhile, so a paused evaluation still lets a caller copy the weights
        (an evaluation does not change them)."""
        self._lock.release()
        try:
            self.commands.between_batches(self.state.step)
        finally:
            self._lock.acquire()

    def _evaluate_and_save(self, cfg: RunConfig) -> bool:
        """Evaluate, sample, checkpoint; True when early stopping says stop."""
        with self._lock:
            result = self.evaluator.evaluate(self._model, cfg, self.state)
        self._publish(result)
        if self.dist.is_main:  # one short passage's bits: the Inspect timeline (~1 ms)
            with self._lock:
                timeline.record(
                    self._raw_model, self.tokenizer, self.evaluator.val_tokens,
                    self.state.step, self.run_dir,
                )  # fmt: skip
        self._sample(cfg)
        self._save("latest", cfg)
        if result.is_best:
            self._save("best", cfg)
        self.checkpointer.keep_step_copy(self.state.step, cfg.keep_checkpoints)
        return self.evaluator.should_stop(cfg, self.state)

    def _sample(self, cfg: RunConfig) -> None:
        """A sample from the live model with the config's sample settings (main rank)."""
        if cfg.sample_length == 0 or self.tokenizer is None or not self.dist.is_main:
            return
        with self._lock:
            event = sample_now(self._raw_model, self.tokenizer, cfg, self.state.step)
        self._publish(event)

    def _save(self, kind: str, cfg: RunConfig) -> None:
        self.checkpointer.save(
            kind, model=self._raw_model, optimizer=self.parts.optimizer,
            scaler=self.parts.scaler, config=cfg, tokenizer=self.tokenizer, state=self.state,
            # A resumed run keeps its budget, thread count and compile decision.
            extra={
                "timing": self.timing.state_dict(),
                "started_config": self._started_config,
                **run_start.numerics_state(self.timing, self._model),
            },
        )  # fmt: skip

    # ----- the end -----

    def _finish(self, reason: str) -> ev.RunFinished:
        event = ev.RunFinished(
            reason=reason,
            step=self.state.step,
            best_val_loss=self.state.best_val_loss,
            elapsed_s=self._elapsed(),
        )
        self._left = "stopped" if reason == "stopped" else f"finished ({reason})"
        self._publish(event)
        return event

    def _fail(self, message: str) -> ev.RunFailed:
        event = ev.RunFailed(error=message, step=self.state.step, elapsed_s=self._elapsed())
        self._left = "failed"
        self._publish(event)
        return event

    def _close(self) -> None:
        self._outlet.close()
        if self._run_lock is not None:
            self._run_lock.release()
        dist.shutdown(self.dist, self._left)

    def _publish(self, event: Event) -> None:
        """To the run log and extra sinks (main rank only), then to the caller's sink."""
        self._outlet(event)

    def _elapsed(self) -> float:
        return time.perf_counter() - self._t0
