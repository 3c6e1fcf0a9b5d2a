"""Events the trainer publishes: frozen dataclasses of plain values, never tensors.

One run publishes ``RunStarted``, then ``StepCompleted``/``EvalCompleted``/``EpochCompleted``/
``SampleGenerated``/``CheckpointSaved``/``ConfigChanged``/``RunPaused``/``RunResumed`` in any
mix, and exactly one terminal event: ``RunFinished`` or ``RunFailed``. Every event converts to
and from a JSON-ready dict with a ``type`` tag, which is how ``events.jsonl`` stores them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Event:
    """Base of every event; ``time`` is wall-clock seconds since the epoch."""

    type: ClassVar[str] = "Event"
    time: float = field(default_factory=_now, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON-ready dict with the event's ``type`` tag.

        JSON has no Infinity or NaN, so a non-finite float becomes null;
        :func:`event_from_dict` reads null in a float field back as infinity (what a
        "no best loss yet" means).
        """
        return {"type": self.type, **_finite_or_none(dataclasses.asdict(self))}


@dataclass(frozen=True)
class RunStarted(Event):
    """Training began (or resumed) for ``run_id``."""

    type: ClassVar[str] = "RunStarted"
    run_id: str
    config: dict[str, Any]
    n_params: int
    device: str
    dtype: str
    total_steps: int
    steps_per_epoch: int
    vocab_size: int
    train_tokens: int
    val_tokens: int
    start_step: int = 0
    resumed: bool = False
    run_dir: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepCompleted(Event):
    """One optimizer step finished. ``step`` counts completed steps (1-based)."""

    type: ClassVar[str] = "StepCompleted"
    step: int
    epoch: int
    loss: float
    lr: float
    tokens_per_s: float
    grad_norm: float
    elapsed_s: float
    total_steps: int
    # Active seconds left (pauses and compilation excluded; engine.train.budget), None until known.
    eta_s: float | None = None
    # A time-budgeted run's schedule clock (0..1 of the budget used); None when by steps.
    progress: float | None = None


@dataclass(frozen=True)
class EvalCompleted(Event):
    """Validation finished. Losses are mean nats per token; bits_per_char = loss / ln 2."""

    type: ClassVar[str] = "EvalCompleted"
    step: int
    epoch: int
    train_loss: float
    val_loss: float
    perplexity: float
    bits_per_char: float
    best_val_loss: float
    is_best: bool


@dataclass(frozen=True)
class EpochCompleted(Event):
    """An epoch (``steps_per_epoch`` steps) finished; ``epoch`` counts completed epochs."""

    type: ClassVar[str] = "EpochCompleted"
    epoch: int
    step: int
    mean_loss: float


@dataclass(frozen=True)
class SampleGenerated(Event):
    """A sample from a fixed prompt and seed, taken at an evaluation."""

    type: ClassVar[str] = "SampleGenerated"
    step: int
    prompt: str
    text: str
    temperature: float


@dataclass(frozen=True)
class CheckpointSaved(Event):
    """A checkpoint file was written atomically; ``kind`` is 'latest', 'best' or 'step'."""

    type: ClassVar[str] = "CheckpointSaved"
    step: int
    path: str
    kind: str


@dataclass(frozen=True)
class ConfigChanged(Event):
    """A live-editable field changed between steps."""

    type: ClassVar[str] = "ConfigChanged"
    step: int
    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class RunPaused(Event):
    """The trainer paused after ``step`` and waits for resume or stop."""

    type: ClassVar[str] = "RunPaused"
    step: int


@dataclass(frozen=True)
class RunResumed(Event):
    """The trainer resumed after a pause."""

    type: ClassVar[str] = "RunResumed"
    step: int


@dataclass(frozen=True)
class RunWarning(Event):
    """Something the user should know that does not stop the run (a fallback, a refusal)."""

    type: ClassVar[str] = "RunWarning"
    message: str
    step: int = 0


@dataclass(frozen=True)
class RunNotice(Event):
    """Something worth showing that is not a problem: 'compiling', 'compiled', 'threads'."""

    type: ClassVar[str] = "RunNotice"
    kind: str
    message: str
    step: int = 0


@dataclass(frozen=True)
class RunFinished(Event):
    """Terminal: 'completed', 'stopped', 'early_stopping' or 'max_steps'."""

    type: ClassVar[str] = "RunFinished"
    reason: str
    step: int
    best_val_loss: float
    elapsed_s: float


@dataclass(frozen=True)
class RunFailed(Event):
    """Terminal: the run could not go on; ``error`` is a one-paragraph explanation."""

    type: ClassVar[str] = "RunFailed"
    error: str
    step: int
    elapsed_s: float = 0.0


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        RunStarted,
        StepCompleted,
        EvalCompleted,
        EpochCompleted,
        SampleGenerated,
        CheckpointSaved,
        ConfigChanged,
        RunPaused,
        RunResumed,
        RunWarning,
        RunNotice,
        RunFinished,
        RunFailed,
    )
}

TERMINAL_EVENTS: tuple[type[Event], ...] = (RunFinished, RunFailed)

Sink = Callable[[Event], None]


def _finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float (in dicts, lists, tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_finite_or_none(v) for v in value)
    return value


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from :meth:`Event.to_dict` output.

    Raises:
        ValueError: unknown ``type`` or fields that do not match it.
    """
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown event type {kind!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in fields}
    for name, value in kwargs.items():
        if value is None and fields[name].type == "float":
            kwargs[name] = math.inf
    if "notes" in kwargs and isinstance(kwargs["notes"], list):
        kwargs["notes"] = tuple(kwargs["notes"])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad fields for {kind}: {exc}") from None
