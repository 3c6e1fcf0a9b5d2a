"""Refuse, before allocating, a run that cannot fit in memory.

``n_embd=8192, n_layer=48`` (about 154 GB of weights) passed validation and then died in an
allocation deep inside PyTorch, or swapped the machine to a halt. The estimate counts the
parameters exactly (the model is built on the ``meta`` device, which allocates nothing) and
the rest roughly: gradients, optimizer state and the activations one step keeps for backward.
It errs high on purpose; ``memory_check=false`` in the config skips it for those who know
better (activation checkpointing, swap, a machine about to gain memory).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.config.fields import ConfigError
from engine.config.schema import RunConfig

FLOAT_BYTES = 4  # parameters, gradients and optimizer state are float32 whatever the autocast
OPTIMIZER_COPIES = {"adam": 2, "adamw": 2, "rmsprop": 1, "muon": 2}
"""Tensors of optimizer state per parameter (Adam: two moments)."""
HEADROOM = 1.1
"""The interpreter, torch and the data need room too."""


class MemoryEstimateError(ConfigError):
    """The run needs more memory than the device has."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one training step needs, by part."""

    parameters: int
    weights: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        """Weights, their gradients, optimizer state and activations, with headroom."""
        return int((2 * self.weights + self.optimizer + self.activations) * HEADROOM)


def estimate(cfg: RunConfig, vocab_size: int) -> MemoryEstimate:
    """The memory a training step of ``cfg`` needs (parameters exact, the rest rough)."""
    from engine.models import build_model, count_parameters

    with torch.device("meta"):
        parameters = count_parameters(build_model(cfg, vocab_size))
    weights = parameters * FLOAT_BYTES
    optimizer = weights * OPTIMIZER_COPIES.get(cfg.optimizer, 2)
    tokens = cfg.batch_size * cfg.seq_length
    if cfg.model == "gpt":
        # Per layer: about 16 activations of width n_embd per token (norms, qkv, attention
        # output, the 4x MLP) plus the (T x T) attention weights of every head.
        per_layer = tokens * cfg.n_embd * 16 + cfg.batch_size * cfg.n_head * cfg.seq_length**2
        values = cfg.n_layer * per_layer
    else:
        # Per layer and token: the four gates, cell and hidden state, and the input.
        values = cfg.num_layers * tokens * (cfg.hidden_dim * 8 + cfg.embedding_dim)
    values += tokens * vocab_size * 3  # logits, their softmax and its gradient
    return MemoryEstimate(parameters, weights, optimizer, values * FLOAT_BYTES)


def available_bytes(device: torch.device) -> int | None:
    """Memory free for this process on ``device``; None when it cannot be told."""
    if device.type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(device)
            return int(free)
        except (RuntimeError, AssertionError):
            return None
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil is a dependency; /proc is the fallback
        return _meminfo_available()


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_fits(cfg: RunConfig, vocab_size: int, device: torch.device) -> MemoryEstimate:
    """The estimate, or MemoryEstimateError when it exceeds the device's free memory.

    Skipped (estimate only) when ``cfg.memory_check`` is false or free memory is unknown.
    """
    need = estimate(cfg, vocab_size)
    have = available_bytes(device) if cfg.memory_check else None
    if have is not None and need.total > have:
        where = "GPU memory" if device.type == "cuda" else "free RAM"
        raise MemoryEstimateError(
            {
                "memory": (
                    f"this run needs about {_gb(need.total)} ({need.parameters:,} parameters: "
                    f"weights and gradients {_gb(2 * need.weights)}, optimizer state "
                    f"{_gb(need.optimizer)}, activations {_gb(need.activations)}) but only "
                    f"{_gb(have)} of {where} is available. Lower batch_size, seq_length or "
                    "the model's size, or set memory_check=false to try anyway"
                )
            },
            source="config",
        )
    return need


def _gb(count: float) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e8 else f"{count / 1e6:.0f} MB"
