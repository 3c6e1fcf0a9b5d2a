"""What a run does between optimizer steps: commands, evaluation, samples, checkpoints.

A mixin of :class:`engine.trainer.Trainer`, kept apart so the training loop reads on its own.
It uses the trainer's state (config, model, tokenizer, distributed info, counters) and its
``_publish``; nothing here runs outside a Trainer.
"""

from __future__ import annotations

from typing import Any

from engine import checkpoint as ckpt
from engine import distributed as dist
from engine import events as ev
from engine.analysis import timeline
from engine.config import ConfigError, live_update
from engine.control import Command
from engine.evaluate import evaluate, evaluate_sharded
from engine.sampling import SampleSettings, generate


class _Stop(Exception):
    """Internal: a stop command arrived."""


class TrainerActions:
    """Command handling, evaluation, sampling and checkpoint writing for a Trainer.

    Reads the Trainer's ``config``, ``control``, ``dist``, ``device``, ``dtype``, models,
    tokenizer, token splits and counters; writes ``config``, ``base_lr`` and the best-loss
    bookkeeping.
    """

    # ----- control -----

    def _sync_commands(self) -> None:
        """Apply queued commands (main rank), then share stop and live fields with all ranks."""
        stop = False
        if self.dist.is_main:
            try:
                self._apply_commands()
            except _Stop:
                stop = True
        if self.dist.enabled:
            flag, lr, every = dist.broadcast(
                [float(stop), self.base_lr, float(self.config.eval_interval)],
                self.dist,
                self.device,
            )
            stop, self.base_lr = bool(flag), lr
            if int(every) != self.config.eval_interval:
                self.config = self.config.model_copy(update={"eval_interval": int(every)})
        if stop:
            raise _Stop

    def _apply_commands(self) -> None:
        paused = False
        while True:
            if self._commands is not None:
                self._commands.poll(self.control)
            command = self.control.get(timeout=0.1) if paused else self.control.get()
            if command is None:
                if paused:
                    continue
                return
            if command.kind == "pause" and not paused:
                paused = True
                self.clock.pause()  # a pause uses no time budget and no schedule
                self._publish(ev.RunPaused(step=self.step))
            elif command.kind == "resume" and paused:
                paused = False
                self.clock.resume()
                self._publish(ev.RunResumed(step=self.step))
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
        try:
            new_cfg = live_update(self.config, name, value)
        except ConfigError as exc:
            self._publish(ev.RunWarning(message=str(exc), step=self.step))
            return
        old = getattr(self.config, name)
        self.config = new_cfg
        if name == "learning_rate":
            self.base_lr = new_cfg.learning_rate
        self._publish(
            ev.ConfigChanged(step=self.step, name=name, old=old, new=getattr(new_cfg, name))
        )

    # ----- evaluation, samples, checkpoints -----

    def _evaluate_and_save(self) -> bool:
        """Evaluate, sample, checkpoint; True when early stopping says stop."""
        cfg = self.config
        with self._lock:
            kwargs = {"dtype": self.dtype, "char_lengths": self.char_lengths,
                      "info": self.dist, "device": self.device}  # fmt: skip
            val = evaluate_sharded(
                self._model, self.val_tokens, cfg.seq_length, cfg.eval_max_windows, **kwargs
            )
            train = evaluate_sharded(
                self._model, self.train_tokens, cfg.seq_length,
                cfg.eval_max_windows or val.windows, **kwargs,
            )  # fmt: skip
        is_best = val.loss < self.best_val_loss
        if is_best:
            self.best_val_loss = val.loss
            self.evals_since_best = 0
        else:
            self.evals_since_best += 1
        self._publish(
            ev.EvalCompleted(
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
        if self.dist.is_main:  # one short passage's bits: the Inspect timeline (~1 ms)
            with self._lock:
                timeline.record(
                    self._raw_model, self.tokenizer, self.val_tokens, self.step, self.run_dir
                )
        self._sample()
        self._save("latest")
        if is_best:
            self._save("best")
        if cfg.keep_checkpoints > 0 and self.dist.is_main:
            path = ckpt.keep_step_copy(self.run_dir, self.step, cfg.keep_checkpoints)
            self._publish(ev.CheckpointSaved(step=self.step, path=str(path), kind="step"))
        patience = cfg.early_stopping_patience
        return patience > 0 and self.evals_since_best >= patience

    def _time_eval(self, windows: int) -> float:
        """Seconds to score ``windows`` validation windows as an evaluation does."""
        began = self.clock.now()
        with self._lock:
            evaluate(self._model, self.val_tokens, self.config.seq_length, max_windows=windows,
                     dtype=self.dtype)  # fmt: skip
        return self.clock.now() - began

    def _sample(self) -> None:
        cfg = self.config
        if cfg.sample_length == 0 or self.tokenizer is None or not self.dist.is_main:
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
            ev.SampleGenerated(
                step=self.step, prompt=prompt, text=text, temperature=settings.temperature
            )
        )

    def _save(self, kind: str) -> None:
        """Write ``<kind>.pt`` atomically (main rank only: every rank holds the same state)."""
        if not self.dist.is_main:
            return
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
        payload["timing"] = self.timing.state_dict()  # a resumed run keeps its budget
        path = self.run_dir / f"{kind}.pt"
        ckpt.atomic_torch_save(payload, path)
        self._publish(ev.CheckpointSaved(step=self.step, path=str(path), kind=kind))
