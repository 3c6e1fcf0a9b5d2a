"""Model registry keyed by ``config.model``, and the protocol every model follows.

A model is an ``nn.Module`` with:

- ``forward(idx, targets=None) -> (logits, loss)``: idx (B, T) token ids; logits (B, T, V);
  loss is the mean cross-entropy when targets are given, else None.
- ``init_state(batch_size) -> state``: an empty generation state.
- ``step(idx, state) -> (logits, state)``: feed new tokens idx (B, T') after those already in
  ``state``; returns the logits of the last position (B, V). Each new token costs O(1) model
  steps (carried LSTM state, GPT KV cache), so streaming generation stays fast.
- ``reorder_state(state, index) -> state``: the state of batch rows ``index`` (in that
  order, repeats allowed); beam search uses it and never looks inside a state.
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
