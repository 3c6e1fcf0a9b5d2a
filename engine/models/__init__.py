"""Model registry keyed by ``config.model``, and the protocol every model follows.

A model is an ``nn.Module`` with ``forward(idx, targets=None) -> (logits, loss)`` (idx (B, T),
logits (B, T, V), mean cross-entropy or None); ``init_state(batch_size)``, an empty generation
state; ``step(idx, state) -> (logits, state)``, the last position's logits (B, V) after new
tokens (B, T'), O(1) model steps per token; ``reorder_state(state, index)``, the state of
batch rows ``index`` (repeats allowed), for beam search, which never looks inside a state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import torch
from torch import nn

from engine.config.schema import RunConfig


class LanguageModel(Protocol):
    """What the trainer, the decoders (engine.generate.sampling, engine.generate.beam) and analysis
    need from a
    model: an ``nn.Module`` with these methods."""

    training: bool

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def init_state(self, batch_size: int) -> Any: ...

    def step(self, idx: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...

    def reorder_state(self, state: Any, index: torch.Tensor) -> Any: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def train(self, mode: bool = True) -> Any: ...

    def eval(self) -> Any: ...


def _build_lstm(cfg: RunConfig, vocab_size: int) -> nn.Module:
    from engine.models.lstm import CharLSTM

    return CharLSTM(
        vocab_size=vocab_size,
        embedding_dim=cfg.embedding_dim,
        hidden_dim=cfg.hidden_dim,
        num_layers=cfg.num_layers,
        dropout=cfg.dropout,
    )


def _build_gpt(cfg: RunConfig, vocab_size: int) -> nn.Module:
    from engine.models.gpt import GPT

    return GPT(
        vocab_size=vocab_size,
        block_size=cfg.seq_length,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        dropout=cfg.dropout,
        position_encoding=cfg.position_encoding,
        activation=cfg.activation,
    )


MODELS: dict[str, Callable[[RunConfig, int], nn.Module]] = {
    "lstm": _build_lstm,
    "gpt": _build_gpt,
}


def build_model(cfg: RunConfig, vocab_size: int) -> nn.Module:
    """A freshly initialised model for ``cfg.model`` (initialisation uses torch's global RNG)."""
    try:
        builder = MODELS[cfg.model]
    except KeyError:
        raise ValueError(f"unknown model {cfg.model!r}; expected one of {sorted(MODELS)}") from None
    return builder(cfg, vocab_size)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, each shared tensor counted once."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total
