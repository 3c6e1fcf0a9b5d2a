"""Textual messages that carry engine events and generated text from worker threads to the UI.

Workers only ever call ``post_message`` (thread-safe, non-blocking). High-rate traffic never
becomes one message per item: steps and generated characters go into a thread-safe buffer and
a single coalescing "ready" message tells the UI to drain it (the pattern of Textualize/toolong).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from threading import Lock
from typing import Any, Generic, TypeVar

from textual.message import Message

from engine.events import Event
from tui.dashboard.model_source import GenerationModel

T = TypeVar("T")


class EngineEvent(Message, bubble=False):  # for the main screen, not the App
    """A low-rate engine event (eval, epoch, sample, checkpoint, pause, terminal...)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class StepsReady(Message, bubble=False):  # for the main screen, not the App
    """New ``StepCompleted`` events wait in the step buffer; any number coalesce into one."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StepsReady)


class GenerationChunk(Message):
    """Characters sampled since the previous chunk (``generation_id`` ties them to a request)."""

    def __init__(
        self, generation_id: int, text: str, source: str = "", probs: list[float] | None = None
    ) -> None:
        super().__init__()
        self.generation_id = generation_id
        self.text = text
        self.source = source
        self.probs = probs if probs is not None else [1.0] * len(text)  # one per character


class CandidatesReady(Message):
    """The likeliest next characters with their probabilities (or ``error``, a sentence)."""

    def __init__(self, candidates: list[tuple[str, float]], error: str = "") -> None:
        super().__init__()
        self.candidates = candidates
        self.error = error


class GenerationEnded(Message):
    """A generation finished, was stopped, or failed (``error`` is a sentence for the user)."""

    def __init__(self, generation_id: int, reason: str, error: str = "") -> None:
        super().__init__()
        self.generation_id = generation_id
        self.reason = reason
        self.error = error


class RunOpened(Message, bubble=False):  # for the main screen, not the App
    """A run folder read for the dashboard: its history, its checkpoint (None when it has
    none loadable, ``note`` says why), its saved config (None when unreadable) and its state
    (finished, stopped, failed, interrupted, running)."""

    def __init__(
        self,
        folder: Path,
        history: list[Event],
        loaded: GenerationModel | None,
        config: Any,
        note: str = "",
        state: str = "",
    ) -> None:
        super().__init__()
        self.folder = folder
        self.history = history
        self.loaded = loaded
        self.config = config
        self.note = note
        self.state = state


class OverlayLoaded(Message, bubble=False):  # for the main screen, not the App
    """Loss curves of other runs, ready to overlay on the loss chart."""

    def __init__(self, series: list[Any]) -> None:
        super().__init__()
        self.series = series


class DrainBuffer(Generic[T]):
    """A thread-safe FIFO the worker appends to and the UI drains in one go.

    ``push`` returns True only when the buffer went from "announced" to "needs a notice",
    so the producer posts at most one message per drain, however fast it produces.
    """

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._lock = Lock()
        self._announced = False

    def push(self, item: T) -> bool:
        """Add an item; True when the caller should post a notice message."""
        with self._lock:
            self._items.append(item)
            if self._announced:
                return False
            self._announced = True
            return True

    def drain(self) -> list[T]:
        """Every buffered item, oldest first; the next push announces again."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._announced = False
            return items
