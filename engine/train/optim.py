"""Optimizers with sensible parameter groups, and the learning-rate schedule as a pure function."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from engine.config.schema import RunConfig
from engine.train.state import TrainState


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices (Linear, LSTM and attention weights) only.

    Biases, norm gains and embeddings are not decayed: shrinking them towards zero does not
    regularise the model's capacity and, for embeddings, hurts rare characters. The GPT's
    output projection is tied to its token embedding, so it is not decayed either.
    Returns two groups, decayed first; a parameter shared by two modules appears once.
    """
    decay, no_decay = [], []
    seen: set[int] = set()
    embedding_params = {
        id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()
    }
    for _, param in model.named_parameters():
        if not param.requires_grad or id(param) in seen:
            continue
        seen.add(id(param))
        if param.dim() >= 2 and id(param) not in embedding_params:
            decay.append(param)
        else:
            no_decay.append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _fused_supported(device: torch.device) -> bool:
    # Fused Adam/AdamW: one kernel for every parameter (CUDA; CPU since torch 2.4). On a
    # 2-core CPU it halves the optimizer's time; numerically the same update.
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    major, minor = (int(part) for part in torch.__version__.split(".")[:2])
    return (major, minor) >= (2, 4)


# Keller Jordan's quintic Newton-Schulz coefficients (also torch.optim.Muon's defaults).
_NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)


def orthogonalize(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """Approximately the nearest semi-orthogonal matrix to each (..., A, B) matrix in ``g``.

    Five quintic Newton-Schulz iterations in bf16 (singular values land in about [0.7, 1.2],
    which Muon's authors found does no harm), batched over the leading dimensions.
    """
    a, b, c = _NS_COEFFICIENTS
    x = g.bfloat16()
    wide = x.size(-2) <= x.size(-1)
    if not wide:
        x = x.mT  # iterate on the side with fewer rows: (.., min, max)
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=1e-7)  # spectral norm <= 1
    for _ in range(steps):
        gram = x @ x.mT  # (.., min, min)
        poly = (
            torch.baddbmm(gram, gram, gram, beta=b, alpha=c)
            if x.dim() == 3
            else (b * gram + c * gram @ gram)
        )
        x = torch.baddbmm(x, poly, x, beta=a) if x.dim() == 3 else a * x + poly @ x
    return x if wide else x.mT


class Muon(torch.optim.Optimizer):
    """Muon (Keller Jordan, 2024): momentum, then an orthogonalised step, for 2-D weights.

    The update rule is ``torch.optim.Muon``'s with Moonshot's ``match_rms_adamw`` scaling
    (an update's RMS matches AdamW's, so AdamW's learning rate and weight decay carry over):
    ``B = momentum * B + g``; ``O = NS(g + momentum * B)`` (Nesterov); ``W -= lr * wd * W``;
    ``W -= lr * 0.2 * sqrt(max(A, B)) * O``. What differs is speed: matrices of the same
    shape are orthogonalised together in one batched product, which on a 2-core CPU takes
    under half the time of torch's one-matrix-at-a-time loop (29 vs 63 ms per step for
    gpt-cpu's 16 matrices).
    """

    def __init__(
        self, params: list, lr: float, weight_decay: float = 0.0, momentum: float = 0.95
    ) -> None:
        for p in params:
            if p.dim() != 2:
                raise ValueError(f"Muon steps 2-D weights only; got a {p.dim()}-D parameter")
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            by_shape: dict[tuple[int, ...], list[torch.Tensor]] = {}
            for p in group["params"]:
                if p.grad is not None:
                    by_shape.setdefault(tuple(p.shape), []).append(p)
            for shape, params in by_shape.items():
                grads = torch.stack([p.grad for p in params])  # (n, A, B)
                bufs = []
                for p in params:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    bufs.append(state["momentum_buffer"])
                torch._foreach_mul_(bufs, group["momentum"])
                torch._foreach_add_(bufs, list(grads.unbind(0)))
                nesterov = grads.add_(torch.stack(bufs), alpha=group["momentum"])
                update = orthogonalize(nesterov).to(params[0].dtype)
                scale = 0.2 * math.sqrt(max(shape))
                if group["weight_decay"] > 0:
                    torch._foreach_mul_(params, 1.0 - group["lr"] * group["weight_decay"])
                torch._foreach_add_(params, list(update.unbind(0)), alpha=-group["lr"] * scale)


class MuonAdamW:
    """Muon on the hidden matrices, AdamW on everything else, behind one optimizer's interface.

    Muon (see :class:`Muon`) replaces each matrix's momentum-averaged gradient by its nearest
    semi-orthogonal matrix before the step: every direction of the update moves at the same
    rate, which makes small Transformers learn far more per token than AdamW does (with it,
    gpt-cpu beat in 750 steps what AdamW reached in 1500; docs/models.md. It
    is defined for 2-D weights only; embeddings (and the GPT's output head, tied to them),
    norm gains and biases keep AdamW. Both halves share one learning rate and one schedule.

    ``param_groups`` lists both inner optimizers' groups (the trainer writes ``lr`` into each);
    ``state_dict`` nests the two so a checkpoint resumes both exactly.
    """

    def __init__(
        self,
        muon_params: list,
        adamw_groups: list[dict],
        lr: float,
        beta2: float,
        weight_decay: float = 0.0,
        **adamw_extra: bool,
    ) -> None:
        self.muon = Muon(muon_params, lr=lr, weight_decay=weight_decay)
        self.adamw = torch.optim.AdamW(adamw_groups, lr=lr, betas=(0.9, beta2), **adamw_extra)

    @property
    def param_groups(self) -> list[dict]:
        # Built on each access: load_state_dict replaces the inner optimizers' group dicts,
        # and a list kept from before would take the trainer's learning rates to stale ones.
        return self.muon.param_groups + self.adamw.param_groups

    def step(self) -> None:
        self.muon.step()
        self.adamw.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.muon.zero_grad(set_to_none=set_to_none)
        self.adamw.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"muon": self.muon.state_dict(), "adamw": self.adamw.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if set(state) != {"muon", "adamw"}:
            raise ValueError("this checkpoint's optimizer state is not a Muon + AdamW pair")
        self.muon.load_state_dict(state["muon"])
        self.adamw.load_state_dict(state["adamw"])


def build_optimizer(
    model: nn.Module, cfg: RunConfig, device: torch.device
) -> torch.optim.Optimizer:
    """The optimizer named by ``cfg.optimizer``; fused Adam/AdamW kernels where available.

    ``beta1`` is 0.9 throughout; ``beta2`` comes from the config (0.99 suits small batches of
    characters, as in nanoGPT's shakespeare_char). For adam and rmsprop ``weight_decay`` is
    classic L2 added to the gradient; for adamw it is decoupled. Either way it applies only
    to the matrices (see :func:`param_groups`). ``muon`` steps the matrices with Muon and the
    rest with AdamW (see :class:`MuonAdamW`).
    """
    groups = param_groups(model, cfg.weight_decay)
    extra = {"fused": True} if _fused_supported(device) else {}
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(0.9, cfg.beta2), **extra)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.learning_rate, betas=(0.9, cfg.beta2), **extra)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.learning_rate)
    if cfg.optimizer == "muon":
        decay, no_decay = groups
        # An LSTM's weight matrices get Muon too (each stacked gate matrix as one map), but
        # the recipe was tuned and measured on the GPT only.
        optimizer = MuonAdamW(
            decay["params"],
            [no_decay],
            lr=cfg.learning_rate,
            beta2=cfg.beta2,
            weight_decay=cfg.weight_decay,
            **extra,
        )
        return optimizer  # type: ignore[return-value]
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


def lr_at(
    step: int,
    cfg: RunConfig,
    total_steps: int,
    base_lr: float | None = None,
    progress: float | None = None,
) -> float:
    """Learning rate for 0-based optimizer ``step``: linear warmup, then the schedule.

    ``base_lr`` overrides ``cfg.learning_rate`` (a live change keeps the schedule's shape).
    ``progress`` (0..1, the fraction of a time budget used: engine.train.budget) replaces the
    step count as the schedule's clock; warmup stays in steps, because what it protects
    (the optimizer's first moment estimates) is counted in steps, not seconds.
    """
    peak = cfg.learning_rate if base_lr is None else base_lr
    if progress is not None and cfg.lr_schedule != "step":  # 'step' counts steps anyway
        warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
        return warm * _shape(peak, cfg, min(1.0, max(0.0, progress)))
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        return peak * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return peak
    if cfg.lr_schedule == "step":
        return peak * cfg.lr_gamma ** ((step - cfg.warmup_steps) // cfg.lr_step_size)
    # cosine or wsd from peak to peak * min_lr_ratio over the steps after warmup
    span = max(1, total_steps - cfg.warmup_steps)
    return _shape(peak, cfg, min(1.0, (step - cfg.warmup_steps) / span))


def _shape(peak: float, cfg: RunConfig, progress: float) -> float:
    """The schedule after warmup at ``progress`` (0..1) of the run."""
    floor = peak * cfg.min_lr_ratio
    if cfg.lr_schedule == "cosine":
        return floor + 0.5 * (peak - floor) * (1.0 + math.cos(math.pi * progress))
    if cfg.lr_schedule == "wsd":
        # Hold the peak, then decay linearly to the floor over the last decay_fraction.
        into_decay = (progress - (1.0 - cfg.decay_fraction)) / cfg.decay_fraction
        return peak - (peak - floor) * min(1.0, max(0.0, into_decay))
    return peak


Schedule = Callable[[TrainState, int, RunConfig, "float | None"], float]
"""(state, total steps, config, fraction of the time budget used or None) -> the learning
rate of the next optimizer step; the trainer takes one, so a test can plant its own."""


def default_schedule(
    state: TrainState, total_steps: int, cfg: RunConfig, progress: float | None
) -> float:
    """Warmup then the config's schedule, peaking at the (live) ``learning_rate``; with a
    time budget, the schedule follows the budget's fraction used (:func:`lr_at`)."""
    return lr_at(state.step, cfg, total_steps, progress=progress)
