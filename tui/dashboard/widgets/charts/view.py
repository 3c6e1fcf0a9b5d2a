"""How the dashboard's charts look at the data: smoothing, x axis, zoom (no widgets here).

A :class:`ChartView` is shared by every chart of the metric grid, so one key changes them
all together. :class:`StepClock` turns steps into wall time or tokens seen (from the
``StepCompleted`` events), so any series recorded by step can be drawn on any x axis.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.config.table import BY_NAME as CONFIG_FIELDS

if TYPE_CHECKING:
    from textual_plotext.plot import Plot

# EMA weight of the previous smoothed value, as TensorBoard's slider (0 = raw points).
SMOOTHING_STEPS = (0.0, 0.6, 0.8, 0.9, 0.95, 0.99)
X_AXES = ("step", "time", "tokens")
X_LABELS = {"step": "step", "time": "wall time (s)", "tokens": "tokens seen"}
ZOOM_STEPS = (0, 100, 500, 2000, 10_000)  # last N steps on screen; 0 = the whole run


def _next(steps: tuple[Any, ...], value: Any) -> Any:
    """The element after ``value`` in ``steps``, wrapping to the first."""
    index = steps.index(value) if value in steps else -1
    return steps[(index + 1) % len(steps)]


@dataclass
class ChartView:
    """Smoothing weight, x axis and zoom window shared by every chart of the grid."""

    smoothing: float = 0.0
    x_axis: str = "step"
    last_n: int = 0
    cursor: int | None = None  # a step whose values the titles show; None = the last point

    def cycle_smoothing(self) -> None:
        self.smoothing = _next(SMOOTHING_STEPS, self.smoothing)

    def cycle_x_axis(self) -> None:
        self.x_axis = _next(X_AXES, self.x_axis)

    def cycle_zoom(self) -> None:
        self.last_n = _next(ZOOM_STEPS, self.last_n)

    def move_cursor(self, direction: int, first: int, last: int) -> None:
        """Move the cursor a fortieth of the steps on screen; past the end it leaves (the
        titles show the last point again)."""
        if last <= first:
            self.cursor = None
            return
        start = self.cursor if self.cursor is not None else last
        moved = start + direction * max(1, (last - first) // 40)
        self.cursor = None if moved >= last and direction > 0 else max(first, min(last, moved))

    def describe(self) -> str:
        """``smooth 0.9 · x time · last 500`` (what the chart settings line shows)."""
        smooth = f"{self.smoothing:g}" if self.smoothing else "off"
        zoom = f"last {self.last_n} steps" if self.last_n else "all steps"
        cursor = f" · cursor step {self.cursor}" if self.cursor is not None else ""
        return f"smooth {smooth} (z) · x {self.x_axis} (a) · {zoom} (u){cursor}"


def ema(values: list[float], weight: float) -> list[float]:
    """Exponential moving average with TensorBoard's debiasing (the start is not pulled
    towards zero). ``weight`` 0 returns the values unchanged."""
    if weight <= 0:
        return list(values)
    out: list[float] = []
    last = 0.0
    for count, value in enumerate(values, start=1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**count))
    return out


class Smoothed:
    """:func:`ema` of a growing series, extended by the new points only: a long run's
    redraw does not smooth every step again (the charts redraw about once a second)."""

    def __init__(self) -> None:
        self.weight = 0.0
        self.out: list[float] = []
        self._last = 0.0

    def clear(self) -> None:
        self.out, self._last = [], 0.0

    def of(self, values: list[float], weight: float) -> list[float]:
        """The smoothed ``values`` (the list itself when ``weight`` is 0)."""
        if weight <= 0:
            return values
        if weight != self.weight or len(values) < len(self.out):
            self.weight = weight
            self.clear()
        for count in range(len(self.out) + 1, len(values) + 1):
            self._last = self._last * weight + (1 - weight) * values[count - 1]
            self.out.append(self._last / (1 - weight**count))
        return self.out


class StepClock:
    """Step -> elapsed seconds and tokens seen, learned from the steps as they arrive."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.elapsed: list[float] = []
        self.tokens_per_step = 0

    def reset(self) -> None:
        """Forget the steps (a new run); tokens per step stays until the run says."""
        self.steps.clear()
        self.elapsed.clear()

    def add(self, step: int, elapsed_s: float) -> None:
        if not self.steps or step > self.steps[-1]:
            self.steps.append(step)
            self.elapsed.append(elapsed_s)

    def time_at(self, step: int) -> float:
        """Elapsed seconds at ``step`` (the latest known step at or before it)."""
        if not self.steps:
            return 0.0
        index = bisect.bisect_right(self.steps, step) - 1
        return self.elapsed[max(0, index)]

    def x(self, steps: list[int], axis: str) -> list[float]:
        """``steps`` on the ``axis`` scale (step, time, tokens)."""
        if axis == "time":
            return [self.time_at(s) for s in steps]
        if axis == "tokens":
            return [float(s * self.tokens_per_step) for s in steps]
        return [float(s) for s in steps]


def window(steps: list[int], values: list[float], last_n: int, last_step: int) -> tuple:
    """The points within the last ``last_n`` steps before ``last_step`` (0 = all)."""
    if not last_n or not steps:
        return list(steps), list(values)
    start = bisect.bisect_left(steps, last_step - last_n)
    return steps[start:], values[start:]


def value_at(steps: list[int], values: list[float], step: int | None) -> float | None:
    """The value at ``step`` (the latest point at or before it); the last one for None."""
    if not values:
        return None
    if step is None:
        return values[-1]
    index = bisect.bisect_right(steps, step) - 1
    return values[index] if index >= 0 else None


def tokens_per_step(config: dict[str, Any]) -> int:
    """Tokens one optimizer step consumes, from a run's config (defaults when absent)."""

    def get(name: str) -> int:
        return int(config.get(name, CONFIG_FIELDS[name].default))

    return get("batch_size") * get("seq_length") * get("grad_accum_steps")


LABEL_MIN_HEIGHT = 14  # a shorter chart spends no row on "step": the view line names the axis


def x_label_text(axis: str, height: int) -> str | None:
    """The x axis's name, when the chart is tall enough to spare the row."""
    return X_LABELS[axis] if height >= LABEL_MIN_HEIGHT else None


def format_tick(value: float, axis: str) -> str:
    """A readable x tick: whole steps, ``1m30s`` times, ``1.2M`` tokens."""
    if axis == "time":
        seconds = round(value)
        return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
    if axis == "tokens":
        for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= size:
                return f"{value / size:.3g}{suffix}"
    return str(round(value))


def x_ticks(plt: Plot, xs: list[float], axis: str, count: int = 5) -> None:
    """Five evenly spread ticks over ``xs`` with labels fit for ``axis``."""
    if not xs:
        return
    low, high = min(xs), max(xs)
    if high <= low:
        ticks = [low]
    else:
        ticks = [low + (high - low) * i / (count - 1) for i in range(count)]
        if axis == "step":
            ticks = sorted({float(round(t)) for t in ticks})
    plt.xticks(ticks, [format_tick(t, axis) for t in ticks])


def y_ticks(plt: Plot, values: list[float], count: int = 5) -> None:
    """Y ticks with short labels; a flat series gets one tick, not float noise."""
    if not values:
        return
    low, high = min(values), max(values)
    if high - low <= 1e-9 * max(1.0, abs(high)):
        plt.ylim(low - max(abs(low) * 0.1, 1e-9), high + max(abs(high) * 0.1, 1e-9))
        plt.yticks([high], [format_value(high)])
        return
    ticks = [low + (high - low) * i / (count - 1) for i in range(count)]
    plt.yticks(ticks, [format_value(t) for t in ticks])


def format_value(value: float | None) -> str:
    """A metric's value at the last point, compact (``1.432``, ``41.2k``, ``3e-04``)."""
    if value is None:
        return "—"
    if abs(value) >= 10_000:
        return f"{value / 1000:,.4g}k"
    return f"{value:.4g}"
