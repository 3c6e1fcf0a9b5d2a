"""Run time that counts: a clock without pauses or start-up costs, a time budget, deadlines.

*Active* time is wall time without pauses; its *overhead* (building the model and data, the
first compiled step) uses up a budget but does not advance the learning-rate schedule. With
``time_budget_s`` the schedule's clock is ``(active - overhead) / (budget - overhead -
reserve)``, ``reserve`` being the final evaluation's expected cost, so the schedule ends when
that evaluation must start. Clocks are injectable and the state is checkpointed.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any

Clock = Callable[[], float]

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?")

# Headroom on the final evaluation's expected cost (its sample and checkpoint writes are
# not in the calibration; a busy machine varies).
RESERVE_MARGIN = 1.2


def parse_duration(text: str) -> float:
    """Seconds in ``'90'``, ``'90s'``, ``'5m'``, ``'1h30m'`` or ``'1h2m3s'``.

    Raises:
        ValueError: anything else, or a zero duration, with the accepted forms.
    """
    cleaned = text.strip().lower().replace(" ", "")
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None or not any(match.groups()):
        raise ValueError(
            f"cannot read {text!r} as a duration; use seconds or h/m/s units, for example "
            "90, 90s, 5m or 1h30m"
        )
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"a time budget must be longer than zero; got {text!r}")
    return total


class RunClock:
    """Active seconds of a run (pauses excluded), and the part of them that is overhead.

    Args:
        clock: seconds from any origin (time.perf_counter by default; tests pass a fake).
        state: what :meth:`state_dict` returned when the run was checkpointed; the clock
            carries on from it.
    """

    def __init__(self, clock: Clock | None = None, state: dict[str, Any] | None = None) -> None:
        self._clock = clock or time.perf_counter
        state = state or {}
        self._carried = float(state.get("active_s", 0.0))
        self.overhead_s = float(state.get("overhead_s", 0.0))
        self._origin = self._clock()
        self._paused_total = 0.0
        self._paused_at: float | None = None

    def now(self) -> float:
        """The underlying clock's reading (for timing a span)."""
        return self._clock()

    @property
    def active_s(self) -> float:
        """Seconds of this run, over every process that trained it, less pauses."""
        now = self._paused_at if self._paused_at is not None else self._clock()
        return self._carried + now - self._origin - self._paused_total

    @property
    def session_s(self) -> float:
        """Active seconds of this process alone (since the clock was made)."""
        return self.active_s - self._carried

    @property
    def train_s(self) -> float:
        """Active seconds less overhead: the schedule's time axis."""
        return self.active_s - self.overhead_s

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self._clock()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_total += self._clock() - self._paused_at
            self._paused_at = None

    def add_overhead(self, seconds: float) -> None:
        """Count ``seconds`` of active time as overhead (start-up, compilation)."""
        self.overhead_s += max(0.0, seconds)

    def state_dict(self) -> dict[str, float]:
        return {"active_s": self.active_s, "overhead_s": self.overhead_s}


class TimeBudget:
    """A deadline ``budget_s`` active seconds after the run began, final evaluation included.

    ``reserve_s`` (the final evaluation's expected cost) starts unknown (0), is set by
    :meth:`calibrated` from a timed evaluation of a few windows, then replaced by measured
    evaluations. It is part of the checkpointed state: a resumed run plans the same way.
    """

    def __init__(self, budget_s: float, clock: RunClock, state: dict[str, Any] | None = None):
        self.budget_s = budget_s
        self.clock = clock
        self.reserve_s = float((state or {}).get("reserve_s", 0.0))
        self.reserve_measured = bool((state or {}).get("reserve_measured", False))
        self.reserve_calibrated = bool((state or {}).get("reserve_calibrated", False))

    def usable_s(self) -> float:
        """Seconds of training the budget allows in all (its schedule's length)."""
        return self.budget_s - self.clock.overhead_s - self.reserve_s

    def fraction(self) -> float:
        """How much of the schedule is done, 0..1."""
        usable = self.usable_s()
        if usable <= 0:
            return 1.0
        return min(1.0, max(0.0, self.clock.train_s / usable))

    def exhausted(self) -> bool:
        return self.fraction() >= 1.0

    def remaining_s(self) -> float:
        """Active seconds to the deadline (the ETA of a budgeted run)."""
        return max(0.0, self.budget_s - self.clock.active_s)

    def training_left_s(self) -> float:
        """Seconds of training before the final evaluation must start."""
        return max(0.0, self.usable_s() - self.clock.train_s)

    def calibrated(self, seconds_per_window: float, windows: int) -> None:
        """The final evaluation will score ``windows`` at the timed cost of one."""
        if not self.reserve_measured:
            self.reserve_s = RESERVE_MARGIN * seconds_per_window * windows
        self.reserve_calibrated = True

    def measured_eval(self, seconds: float) -> None:
        """An evaluation (with its sample and checkpoints) took ``seconds``."""
        self.reserve_s = RESERVE_MARGIN * seconds
        self.reserve_measured = True

    def state_dict(self) -> dict[str, Any]:
        return {
            "reserve_s": self.reserve_s,
            "reserve_measured": self.reserve_measured,
            "reserve_calibrated": self.reserve_calibrated,
        }


class Every:
    """Due once each time a clock passes a multiple of ``interval_s`` (never when it is 0).

    Multiples, not "interval after the last one", so a resumed run keeps the same deadlines.
    """

    def __init__(self, interval_s: float, now: float = 0.0) -> None:
        self.interval_s = interval_s
        self._slot = self._slot_of(now)

    def _slot_of(self, now: float) -> int:
        return math.floor(now / self.interval_s) if self.interval_s > 0 else 0

    def due(self, now: float) -> bool:
        if self.interval_s <= 0:
            return False
        slot = self._slot_of(now)
        if slot > self._slot:
            self._slot = slot
            return True
        return False


class Pace:
    """Seconds per step and tokens/s over the last ``window`` timed steps.

    Only the training steps themselves are timed (not pauses, evaluations or the first
    compiled step), so the figures are right from the second step on and settle in a few.
    """

    def __init__(self, window: int = 20) -> None:
        self._steps: deque[tuple[float, int]] = deque(maxlen=window)

    def add(self, seconds: float, tokens: int) -> None:
        self._steps.append((max(seconds, 1e-9), tokens))

    def reset(self) -> None:
        """Forget the history (the machine's speed changed, e.g. new thread count)."""
        self._steps.clear()

    @property
    def known(self) -> bool:
        return bool(self._steps)

    @property
    def count(self) -> int:
        return len(self._steps)

    @property
    def step_s(self) -> float:
        if not self._steps:
            return math.nan
        return sum(s for s, _ in self._steps) / len(self._steps)

    @property
    def tokens_per_s(self) -> float:
        if not self._steps:
            return 0.0
        return sum(t for _, t in self._steps) / sum(s for s, _ in self._steps)
