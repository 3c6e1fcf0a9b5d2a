"""Trainer: owns the model, optimizer and schedule of one run and publishes its events.

``Trainer(config).run(sink, control)`` loops until the run completes, is stopped, stops early
or fails, and returns the terminal event. Commands from ``control`` are applied between
optimizer steps. User errors (a bad corpus, an unusable device, a diverging loss, a full
disk) end the run with ``RunFailed`` and a one-paragraph explanation; ``run`` never raises
for them. Every event also goes to the run folder's ``events.jsonl``.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import shutil
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine import checkpoint as ckpt
from engine.config import LIVE_FIELDS, ConfigError, RunConfig, save_config, validate_config
from engine.control import Command, Control
from engine.data import (
    CorpusError,
    EpochBatches,
    Progress,
    read_corpus,
    resolve_corpus,
    split_tokens,
)
from engine.device import DeviceError, autocast, select_device, select_dtype
from engine.evaluate import evaluate
from engine.events import (
    CheckpointSaved,
    ConfigChanged,
    EpochCompleted,
    EvalCompleted,
    Event,
    RunFailed,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    RunWarning,
    SampleGenerated,
    Sink,
    StepCompleted,
)
from engine.lock import RunLock, RunLockedError
from engine.models import build_model, count_parameters
from engine.optim import build_optimizer, lr_at
from engine.remote import CommandFile
from engine.runlog import EVENTS_FILE, RunLog
from engine.sampling import SampleSettings, generate
from engine.tokenizer import (
    Tokenizer,
    UnknownCharactersError,
    build_tokenizer,
    tokenizer_from_dict,
)

log = logging.getLogger(__name__)

# Fields that fix the model, the data or the data order: a resumed run must keep them.
RESUME_FIXED = (
    "data_file", "seq_length", "batch_size", "val_fraction", "tokenizer", "bpe_vocab_size",
    "model",
    "embedding_dim", "hidden_dim", "num_layers", "n_layer", "n_head", "n_embd", "seed",
    "optimizer", "grad_accum_steps",
)  # fmt: skip


class _Stop(Exception):
    """Internal: a stop command arrived."""


def new_run_id(cfg: RunConfig, runs_dir: Path) -> str:
    """``YYYYmmdd-HHMMSS-<model>``, with a suffix if that folder already exists."""
    base = f"{datetime.now():%Y%m%d-%H%M%S}-{cfg.model}"
    run_id, n = base, 1
    while (runs_dir / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


class Trainer:
    """One training run. Create it, then call :meth:`run` once (from any thread).

    Args:
        config: the run's hyperparameters; with ``resume``, None means the checkpoint's.
        runs_dir: parent of run folders.
        run_id: folder name for a new run (default: timestamp and model).
        resume: run id, run folder or .pt file to continue from (latest.pt of a folder).
        data_dir: corpus cache (default ./data or $LLMV0_DATA_DIR).
        download_progress: callback for the corpus download.
    """

    def __init__(
        self,
        config: RunConfig | None = None,
        runs_dir: Path | str = "checkpoints",
        run_id: str | None = None,
        resume: str | Path | None = None,
        data_dir: Path | None = None,
        download_progress: Progress | None = None,
    ) -> None:
        self.runs_dir = Path(runs_dir)
        self.data_dir = data_dir
        self.download_progress = download_progress
        self._resume_payload: dict[str, Any] | None = None
        if resume is not None:
            self._init_resume(resume, config)
        else:
            self.config = config or RunConfig()
            self.run_id = run_id or new_run_id(self.config, self.runs_dir)
            self.run_dir = self.runs_dir / self.run_id
        self._lock = threading.Lock()
        self._model: nn.Module | None = None
        self.tokenizer: Tokenizer | None = None
        self.step = 0

    def _init_resume(self, resume: str | Path, config: RunConfig | None) -> None:
        target = Path(resume)
        folder = target if target.is_dir() else self.runs_dir / str(resume)
        path = target if target.is_file() else folder / "latest.pt"
        if not path.is_file() and not folder.is_dir():
            raise ckpt.CheckpointError(
                f"Cannot resume {resume!s}: no such run folder or checkpoint file. "
                f"`llmv0 runs` lists the runs in {self.runs_dir}."
            )
        payload = ckpt.load_checkpoint(path)
        saved = ckpt.config_of(payload, path)
        if config is not None:
            changed = {
                name: f"the run was trained with {getattr(saved, name)!r}; a resumed run "
                "must keep it"
                for name in RESUME_FIXED
                if getattr(config, name) != getattr(saved, name)
            }
            if changed:
                raise ConfigError(changed, source=f"config for resuming {path}")
        self.config = config or saved
        self._resume_payload = payload
        self.run_dir = path.parent
        self.run_id = str(payload.get("run_id") or self.run_dir.name)

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
        self.control = control or Control()
        self._user_sink = sink
        self._runlog: RunLog | None = None
        self._extra_sinks: list[Sink] = []
        self._run_lock: RunLock | None = None
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._run_lock = RunLock(self.run_dir)
            try:
                self._run_lock.acquire()
            except RunLockedError as exc:
                self._run_lock = None
                # Not written to events.jsonl: that log belongs to the other trainer.
                return self._fail(str(exc))
            for leftover in self.run_dir.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)  # a save killed mid-write; we hold the lock
            self._runlog = RunLog(self.run_dir / EVENTS_FILE)
            self._commands = CommandFile(self.run_dir)
            self._setup()
            return self._loop()
        except (CorpusError, ConfigError, DeviceError, UnknownCharactersError) as exc:
            return self._fail(str(exc))
        except ckpt.CheckpointError as exc:
            return self._fail(str(exc))
        except OSError as exc:
            return self._fail(
                f"A file operation failed ({exc.strerror or exc}: {exc.filename or ''}). If "
                "the disk is full, free some space; the last good checkpoint is kept in "
                f"{self.run_dir}. Resume with `llmv0 train --resume {self.run_id}`."
            )
        except Exception as exc:
            log.exception("training failed")
            return self._fail(
                f"Training stopped on an unexpected error: {type(exc).__name__}: {exc}. The "
                f"last good checkpoint is kept in {self.run_dir}."
            )
        finally:
            if self._runlog is not None:
                self._runlog.close()
            if self._run_lock is not None:
                self._run_lock.release()

    def _publish(self, event: Event) -> None:
        if self._runlog is not None:
            self._runlog(event)
        for extra in self._extra_sinks:
            extra(event)
        if self._user_sink is not None:
            try:
                self._user_sink(event)
            except Exception:  # a broken consumer must not kill training
                log.exception("event sink raised on %s", event.type)

    def _fail(self, message: str) -> RunFailed:
        event = RunFailed(error=message, step=self.step, elapsed_s=self._elapsed())
        self._publish(event)
        return event

    def _elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def _setup(self) -> None:
        cfg = self.config
        self.device = select_device(cfg.device)
        self.dtype = select_dtype(cfg, self.device)
        if cfg.num_threads > 0:
            torch.set_num_threads(cfg.num_threads)
        torch.manual_seed(cfg.seed)
        path = resolve_corpus(cfg.data_file, self.data_dir, self.download_progress)
        text = read_corpus(path)
        payload = self._resume_payload
        if payload is not None:
            tokenizer = tokenizer_from_dict(payload["tokenizer"])
            missing = tokenizer.unknown(text)
            if missing:
                raise CorpusError(
                    f"The corpus {path} now has characters the resumed model never saw "
                    f"({', '.join(repr(c) for c in missing[:10])}): it changed since the run "
                    "started. Restore the original file or start a new run."
                )
        else:
            tokenizer = build_tokenizer(cfg.tokenizer, text, cfg.bpe_vocab_size)
        tokens = torch.tensor(tokenizer.encode(text), dtype=torch.long)
        # Characters per token id: bits per character stays comparable across tokenizers.
        self.char_lengths = torch.tensor(tokenizer.char_lengths(), dtype=torch.long)
        splits = split_tokens(tokens, cfg.val_fraction, cfg.seq_length)
        self.train_tokens = splits.train.to(self.device)
        self.val_tokens = splits.val.to(self.device)
        self.batches = EpochBatches(self.train_tokens, cfg.seq_length, cfg.batch_size, cfg.seed)
        steps_per_epoch = self.batches.steps_per_epoch
        self.total_steps = cfg.max_steps or cfg.epochs * steps_per_epoch

        model = build_model(cfg, tokenizer.vocab_size).to(self.device)
        optimizer = build_optimizer(model, cfg, self.device)
        self.best_val_loss = math.inf
        self.evals_since_best = 0
        notes: list[str] = [f"precision: {str(self.dtype).removeprefix('torch.')}"]
        if payload is not None:
            model.load_state_dict(payload["model"])
            optimizer.load_state_dict(payload["optimizer"])
            torch.set_rng_state(payload["rng_cpu"])
            if torch.cuda.is_available() and payload.get("rng_cuda"):
                torch.cuda.set_rng_state_all(payload["rng_cuda"])
            self.step = int(payload["step"])
            self.best_val_loss = float(payload["best_val_loss"])
            self.evals_since_best = int(payload["evals_since_best"])
            notes.append(f"resumed from step {self.step}")
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.device.type == "cuda" and self.dtype == torch.float16
        )
        if payload is not None and payload.get("scaler"):
            self.scaler.load_state_dict(payload["scaler"])
        self.optimizer = optimizer
        self.base_lr = cfg.learning_rate
        compiled, note = self._maybe_compile(model)
        if note:
            notes.append(note)
        with self._lock:
            self._raw_model = model
            self._model = compiled
            self.tokenizer = tokenizer
        save_config(cfg, self.run_dir / "config.json")
        self._publish(
            RunStarted(
                run_id=self.run_id,
                config=cfg.model_dump(),
                n_params=count_parameters(model),
                device=str(self.device),
                dtype=str(self.dtype).removeprefix("torch."),
                total_steps=self.total_steps,
                steps_per_epoch=steps_per_epoch,
                vocab_size=tokenizer.vocab_size,
                train_tokens=len(splits.train),
                val_tokens=len(splits.val),
                start_step=self.step,
                resumed=payload is not None,
                run_dir=str(self.run_dir),
                notes=tuple(notes),
            )
        )
        self._resume_payload = None  # free the tensors
        if cfg.log_tensorboard:
            self._start_tensorboard()

    def _start_tensorboard(self) -> None:
        from engine.tensorboard import TENSORBOARD_DIR, TensorBoardMissing, TensorBoardSink

        try:
            self._extra_sinks.append(TensorBoardSink(self.run_dir / TENSORBOARD_DIR))
        except TensorBoardMissing as exc:
            self._publish(RunWarning(message=str(exc), step=self.step))

    def _maybe_compile(self, model: nn.Module) -> tuple[nn.Module, str | None]:
        if not self.config.compile:
            return model, None
        try:
            from engine.device import maybe_compile  # type: ignore[attr-defined]
        except ImportError:
            return model, "compile: not available in this build; running eager"
        return maybe_compile(model, self.config, self.device)

    def _loop(self) -> Event:
        cfg = self.config
        spe = self.batches.steps_per_epoch
        epoch_losses: list[float] = []
        tokens_per_step = cfg.batch_size * cfg.seq_length * cfg.grad_accum_steps
        rate = 0.0
        last = time.perf_counter()
        reason = "completed"
        try:
            while self.step < self.total_steps:
                self._apply_commands()
                loss, grad_norm, lr = self._train_step()
                if not math.isfinite(loss):
                    return self._fail(
                        f"The loss became {loss} at step {self.step + 1}: training diverged. "
                        f"The last good checkpoint in {self.run_dir} is kept. Lower "
                        f"learning_rate (now {self.base_lr:g}), keep grad_clip > 0 or add "
                        "warmup_steps, then start again or resume."
                    )
                self.step += 1
                now = time.perf_counter()
                instant = tokens_per_step / max(now - last, 1e-9)
                rate = instant if rate == 0.0 else 0.9 * rate + 0.1 * instant
                last = now
                epoch_losses.append(loss)
                self._publish(
                    StepCompleted(
                        step=self.step,
                        epoch=(self.step - 1) // spe,
                        loss=loss,
                        lr=lr,
                        tokens_per_s=rate,
                        grad_norm=grad_norm,
                        elapsed_s=self._elapsed(),
                        total_steps=self.total_steps,
                    )
                )
                if self.step % spe == 0:
                    mean = sum(epoch_losses) / max(len(epoch_losses), 1)
                    self._publish(EpochCompleted(self.step // spe, self.step, mean))
                    epoch_losses = []
                done = self.step >= self.total_steps
                # self.config, not cfg: eval_interval is live and may have changed.
                if self.step % self.config.eval_interval == 0 or done:
                    if self._evaluate_and_save():
                        reason = "early_stopping"
                        break
                    last = time.perf_counter()  # evaluation time is not training speed
                elif cfg.checkpoint_interval and self.step % cfg.checkpoint_interval == 0:
                    self._save("latest")
        except _Stop:
            self._save("latest")
            reason = "stopped"
        event = RunFinished(
            reason=reason,
            step=self.step,
            best_val_loss=self.best_val_loss,
            elapsed_s=self._elapsed(),
        )
        self._publish(event)
        return event

    def _train_step(self) -> tuple[float, float, float]:
        cfg = self.config
        lr = lr_at(self.step, cfg, self.total_steps, self.base_lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        model = self._model
        assert model is not None
        with self._lock:
            model.train()
            total = 0.0
            for micro in range(cfg.grad_accum_steps):
                x, y = self.batches.batch(self.step * cfg.grad_accum_steps + micro)
                with autocast(self.device, self.dtype):
                    _, loss = model(x, y)
                total += float(loss.detach())
                self.scaler.scale(loss / cfg.grad_accum_steps).backward()
            self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            max_norm = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
            loss_value = total / cfg.grad_accum_steps
            if math.isfinite(loss_value):
                self.scaler.step(self.optimizer)
                self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
        return loss_value, grad_norm, lr

    # ----- control -----

    def _apply_commands(self) -> None:
        paused = False
        while True:
            self._commands.poll(self.control)
            command = self.control.get(timeout=0.1) if paused else self.control.get()
            if command is None:
                if paused:
                    continue
                return
            if command.kind == "pause" and not paused:
                paused = True
                self._publish(RunPaused(step=self.step))
            elif command.kind == "resume" and paused:
                paused = False
                self._publish(RunResumed(step=self.step))
            else:
                self._apply(command)

    def _apply(self, command: Command) -> None:
        if command.kind == "stop":
            raise _Stop
        if command.kind == "save":
            self._save("latest")
        elif command.kind == "sample":
            self._sample()
        elif command.kind == "set":
            self._set_field(command.name, command.value)

    def _set_field(self, name: str, value: Any) -> None:
        if name not in LIVE_FIELDS:
            self._publish(
                RunWarning(
                    message=f"{name} cannot change during a run (live fields: "
                    f"{', '.join(sorted(LIVE_FIELDS))}); stop the run and edit the config.",
                    step=self.step,
                )
            )
            return
        try:
            new_cfg = validate_config({**self.config.model_dump(), name: value})
        except ConfigError as exc:
            self._publish(RunWarning(message=str(exc), step=self.step))
            return
        old = getattr(self.config, name)
        self.config = new_cfg
        if name == "learning_rate":
            self.base_lr = new_cfg.learning_rate
        self._publish(ConfigChanged(step=self.step, name=name, old=old, new=getattr(new_cfg, name)))

    # ----- evaluation, samples, checkpoints -----

    def _evaluate_and_save(self) -> bool:
        """Evaluate, sample, checkpoint; True when early stopping says stop."""
        cfg = self.config
        model = self._model
        assert model is not None
        with self._lock:
            val = evaluate(
                model, self.val_tokens, cfg.seq_length,
                max_windows=cfg.eval_max_windows, dtype=self.dtype,
                char_lengths=self.char_lengths,
            )  # fmt: skip
            train = evaluate(
                model, self.train_tokens, cfg.seq_length,
                max_windows=cfg.eval_max_windows or val.windows, dtype=self.dtype,
                char_lengths=self.char_lengths,
            )  # fmt: skip
        is_best = val.loss < self.best_val_loss
        if is_best:
            self.best_val_loss = val.loss
            self.evals_since_best = 0
        else:
            self.evals_since_best += 1
        self._publish(
            EvalCompleted(
                step=self.step,
                epoch=self.step // self.batches.steps_per_epoch,
                train_loss=train.loss,
                val_loss=val.loss,
                perplexity=val.perplexity,
                bits_per_char=val.bits_per_char,
                best_val_loss=self.best_val_loss,
                is_best=is_best,
            )
        )
        self._sample()
        self._save("latest")
        if is_best:
            self._save("best")
        if cfg.keep_checkpoints > 0:
            self._keep_step_checkpoint(cfg.keep_checkpoints)
        patience = cfg.early_stopping_patience
        return patience > 0 and self.evals_since_best >= patience

    def _sample(self) -> None:
        cfg = self.config
        if cfg.sample_length == 0 or self.tokenizer is None:
            return
        prompt = "".join(c for c in cfg.sample_prompt if not self.tokenizer.unknown(c))
        settings = SampleSettings(
            length=cfg.sample_length,
            temperature=cfg.sample_temperature,
            top_k=cfg.sample_top_k,
            top_p=cfg.sample_top_p,
            seed=cfg.seed,
        )
        with self._lock:
            text = generate(self._raw_model, self.tokenizer, prompt, settings)
        self._publish(
            SampleGenerated(
                step=self.step, prompt=prompt, text=text, temperature=settings.temperature
            )
        )

    def _keep_step_checkpoint(self, keep: int) -> None:
        """Hard-link latest.pt as step-NNNNNNN.pt (no second write), keep the newest ``keep``."""
        path = self.run_dir / f"step-{self.step:07d}.pt"
        path.unlink(missing_ok=True)
        try:
            os.link(self.run_dir / "latest.pt", path)
        except OSError:  # no hard links on this filesystem
            shutil.copyfile(self.run_dir / "latest.pt", path)
        self._publish(CheckpointSaved(step=self.step, path=str(path), kind="step"))
        for old in sorted(self.run_dir.glob("step-*.pt"))[:-keep]:
            old.unlink(missing_ok=True)

    def _save(self, kind: str) -> None:
        assert self.tokenizer is not None
        payload = ckpt.make_payload(
            model=self._raw_model,
            optimizer=self.optimizer,
            config=self.config,
            tokenizer=self.tokenizer,
            step=self.step,
            best_val_loss=self.best_val_loss,
            evals_since_best=self.evals_since_best,
            run_id=self.run_id,
            scaler_state=self.scaler.state_dict() if self.scaler.is_enabled() else None,
        )
        path = self.run_dir / f"{kind}.pt"
        ckpt.atomic_torch_save(payload, path)
        self._publish(CheckpointSaved(step=self.step, path=str(path), kind=kind))
