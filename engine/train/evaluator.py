"""Evaluator: validation and training-split metrics at evaluation time, early stopping, and
the sample shown at each evaluation.

Every data-parallel rank scores a share of the windows and all get the same metrics
(engine.analysis.evaluate.evaluate_sharded). The evaluator updates the run's :class:`TrainState`
(best loss, evaluations since it) and says when patience has run out.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from engine import events as ev
from engine.analysis.evaluate import evaluate_sharded
from engine.config.schema import RunConfig
from engine.generate.decoding import SampleSettings
from engine.generate.sampling import generate
from engine.runtime.distributed import DistInfo
from engine.text.tokenizer import Tokenizer
from engine.train.state import TrainState


class Evaluator:
    """Scores a model on a run's validation and training tokens."""

    def __init__(
        self,
        val_tokens: torch.Tensor,
        train_tokens: torch.Tensor,
        char_lengths: torch.Tensor,
        *,
        dtype: torch.dtype,
        dist: DistInfo,
        device: torch.device,
        steps_per_epoch: int,
        between_batches: Callable[[], None] | None = None,
    ) -> None:
        """``between_batches`` runs between two batches of an evaluation: the trainer applies
        a pause or a stop there instead of after the whole evaluation."""
        self.between_batches = between_batches
        self.val_tokens = val_tokens
        self.train_tokens = train_tokens
        self.char_lengths = char_lengths
        self.dtype = dtype
        self.dist = dist
        self.device = device
        self.steps_per_epoch = steps_per_epoch

    def evaluate(self, model: nn.Module, cfg: RunConfig, state: TrainState) -> ev.EvalCompleted:
        """Validation and training loss now; records the evaluation in ``state``."""
        kwargs = {"dtype": self.dtype, "char_lengths": self.char_lengths,
                  "info": self.dist, "device": self.device,
                  "between_batches": self.between_batches}  # fmt: skip
        val = evaluate_sharded(
            model, self.val_tokens, cfg.seq_length, cfg.eval_max_windows, **kwargs
        )
        # As many training windows as validation ones, so the two losses compare fairly.
        train = evaluate_sharded(
            model, self.train_tokens, cfg.seq_length, cfg.eval_max_windows or val.windows,
            **kwargs,
        )  # fmt: skip
        is_best = state.record_eval(val.loss)
        return ev.EvalCompleted(
            step=state.step,
            epoch=state.step // self.steps_per_epoch,
            train_loss=train.loss,
            val_loss=val.loss,
            perplexity=val.perplexity,
            bits_per_char=val.bits_per_char,
            best_val_loss=state.best_val_loss,
            is_best=is_best,
        )

    @staticmethod
    def should_stop(cfg: RunConfig, state: TrainState) -> bool:
        """Early stopping: ``early_stopping_patience`` evaluations without a better loss."""
        patience = cfg.early_stopping_patience
        return patience > 0 and state.evals_since_best >= patience


def sample_now(
    model: nn.Module, tokenizer: Tokenizer, cfg: RunConfig, step: int
) -> ev.SampleGenerated:
    """The sample shown at an evaluation: the config's prompt (characters the vocabulary
    lacks dropped) and sample settings, seeded by the run's seed."""
    prompt = "".join(c for c in cfg.sample_prompt if not tokenizer.unknown(c))
    settings = SampleSettings(
        length=cfg.sample_length, temperature=cfg.sample_temperature, top_k=cfg.sample_top_k,
        top_p=cfg.sample_top_p, seed=cfg.seed,
    )  # fmt: skip
    text = generate(model, tokenizer, prompt, settings)
    return ev.SampleGenerated(step=step, prompt=prompt, text=text, temperature=settings.temperature)
