"""A scripted trainer with the real Trainer's interface, for fast, deterministic UI tests.

It publishes the same event sequence as engine.train.trainer.Trainer (started, steps, evals with a
sample, epochs, checkpoints, terminal) and obeys the same Control commands between steps.
``snapshot()`` returns a tiny real CharLSTM, so generation tests stream real characters.
"""

from __future__ import annotations

import math
import threading
import time

from engine import events as ev
from engine.config.schema import RunConfig
from engine.control import Control
from engine.models import build_model
from engine.text.tokenizer import CharTokenizer

VOCAB = "\n !',.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class ScriptedTrainer:
    """Loss falls as 4.2 * exp(-step / 150); eval every ``eval_interval``; one sample each."""

    def __init__(
        self,
        config: RunConfig,
        resume: str | None = None,
        *,
        step_delay_s: float = 0.004,
        fail_with: str = "",
    ) -> None:
        self.config = config
        self.resume = resume  # what the dashboard asked to continue (None: a new run)
        self.run_id = "fake-run"
        self.step_delay_s = step_delay_s
        self.fail_with = fail_with
        self.step = 0
        self.commands: list[str] = []
        self.tokenizer = CharTokenizer(VOCAB)
        self._lock = threading.Lock()
        self._model = build_model(
            RunConfig(embedding_dim=8, hidden_dim=16), self.tokenizer.vocab_size
        )

    def snapshot(self):
        with self._lock:
            return self._model, self.tokenizer

    def run(self, sink: ev.Sink, control: Control | None = None) -> ev.Event:
        control = control or Control()
        cfg = self.config
        total = cfg.max_steps or 100
        per_epoch = max(1, total // max(1, cfg.epochs))
        t0 = time.perf_counter()
        sink(
            ev.RunStarted(
                run_id=self.run_id,
                config=cfg.model_dump(),
                n_params=1234,
                device="cpu",
                dtype="float32",
                total_steps=total,
                steps_per_epoch=per_epoch,
                vocab_size=60,
                train_tokens=9000,
                val_tokens=1000,
                run_dir="checkpoints/fake-run",
            )
        )
        if self.fail_with:
            return self._end(sink, ev.RunFailed(error=self.fail_with, step=0))
        lr, eval_interval, paused = cfg.learning_rate, cfg.eval_interval, False
        while self.step < total:
            for command in control.drain():
                self.commands.append(command.kind)
                if command.kind == "pause" and not paused:
                    paused = True
                    sink(ev.RunPaused(step=self.step))
                elif command.kind == "resume" and paused:
                    paused = False
                    sink(ev.RunResumed(step=self.step))
                elif command.kind == "save":
                    sink(ev.CheckpointSaved(step=self.step, path="latest.pt", kind="latest"))
                elif command.kind == "set":
                    old = lr if command.name == "learning_rate" else eval_interval
                    if command.name == "learning_rate":
                        lr = command.value
                    elif command.name == "eval_interval":
                        eval_interval = command.value
                    sink(
                        ev.ConfigChanged(
                            step=self.step, name=command.name, old=old, new=command.value
                        )
                    )
                elif command.kind == "stop":
                    sink(ev.CheckpointSaved(step=self.step, path="latest.pt", kind="latest"))
                    return self._end(
                        sink,
                        ev.RunFinished(
                            reason="stopped",
                            step=self.step,
                            best_val_loss=1.0,
                            elapsed_s=time.perf_counter() - t0,
                        ),
                    )
            if paused:
                time.sleep(0.01)
                continue
            time.sleep(self.step_delay_s)
            self.step += 1
            loss = 4.2 * math.exp(-self.step / 150) + 1.0
            sink(
                ev.StepCompleted(
                    step=self.step,
                    epoch=(self.step - 1) // per_epoch,
                    loss=loss,
                    lr=lr,
                    tokens_per_s=5000.0,
                    grad_norm=1.0,
                    elapsed_s=time.perf_counter() - t0,
                    total_steps=total,
                )
            )
            if self.step % eval_interval == 0:
                val = loss + 0.05
                sink(
                    ev.EvalCompleted(
                        step=self.step,
                        epoch=self.step // per_epoch,
                        train_loss=loss,
                        val_loss=val,
                        perplexity=math.exp(val),
                        bits_per_char=val / math.log(2),
                        best_val_loss=val,
                        is_best=True,
                    )
                )
                sink(
                    ev.SampleGenerated(
                        step=self.step,
                        prompt="ROMEO:",
                        text=f" sample at {self.step}",
                        temperature=0.8,
                    )
                )
            if self.step % per_epoch == 0:
                sink(
                    ev.EpochCompleted(epoch=self.step // per_epoch, step=self.step, mean_loss=loss)
                )
        return self._end(
            sink,
            ev.RunFinished(
                reason="completed",
                step=self.step,
                best_val_loss=1.0,
                elapsed_s=time.perf_counter() - t0,
            ),
        )

    @staticmethod
    def _end(sink: ev.Sink, event: ev.Event) -> ev.Event:
        sink(event)
        return event
