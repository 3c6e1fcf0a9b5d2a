"""Optional TensorBoard logging: a sink that writes a run's events as TensorBoard scalars.

Needs the ``tensorboard`` package (``pip install 'llmv0[tensorboard]'``); without it,
:func:`make_tensorboard_sink` raises :class:`TensorBoardMissing` with the install command.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import UserError
from engine.events import (
    EvalCompleted,
    Event,
    RunFailed,
    RunFinished,
    SampleGenerated,
    StepCompleted,
)


class TensorBoardMissing(UserError, RuntimeError):
    """log_tensorboard is on but the tensorboard package is not installed."""


class TensorBoardSink:
    """Writes loss, validation metrics, learning rate, tokens/s and samples for TensorBoard."""

    def __init__(self, log_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise TensorBoardMissing(
                "log_tensorboard is true but the tensorboard package is not installed. "
                "Install it with `pip install 'llmv0[tensorboard]'` (or `pip install "
                "tensorboard`), or set log_tensorboard=false. Training goes on without it."
            ) from None
        self.log_dir = log_dir
        self.writer = SummaryWriter(log_dir=str(log_dir), flush_secs=5)

    def __call__(self, event: Event) -> None:
        w = self.writer
        if isinstance(event, StepCompleted):
            w.add_scalar("train/loss", event.loss, event.step)
            w.add_scalar("train/learning_rate", event.lr, event.step)
            w.add_scalar("train/tokens_per_s", event.tokens_per_s, event.step)
            w.add_scalar("train/grad_norm", event.grad_norm, event.step)
        elif isinstance(event, EvalCompleted):
            w.add_scalar("val/loss", event.val_loss, event.step)
            w.add_scalar("val/perplexity", event.perplexity, event.step)
            w.add_scalar("val/bits_per_char", event.bits_per_char, event.step)
            w.add_scalar("train/eval_loss", event.train_loss, event.step)
        elif isinstance(event, SampleGenerated):
            # Markdown code block keeps line breaks and spacing of the sample.
            w.add_text("sample", f"```\n{event.prompt}{event.text}\n```", event.step)
        elif isinstance(event, RunFinished | RunFailed):
            self.close()

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
