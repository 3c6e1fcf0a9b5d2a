"""LossChart: training and validation loss against step, with epoch and live-change marks.

Data arrive any time (``add_steps``, ``add_eval``...) and only mark the chart dirty; the app's
refresh timer redraws it a few times a second, so a fast run never redraws per step. Long
runs are averaged into at most ``MAX_POINTS`` buckets. Other runs can be overlaid
(:meth:`LossChart.set_overlay`), each in its own colour and labelled with its run id (on the
step axis only: their wall time and tokens are not known here).
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.dashboard.widgets.charts.base import CHANGE, EPOCH, ChartBase
from tui.dashboard.widgets.charts.view import (
    Smoothed,
    format_value,
    value_at,
    window,
    x_ticks,
)

MAX_POINTS = 300  # about two per braille column of a full-width chart
MAX_MARKS = 12
TRAIN_COLOR = (80, 160, 255)
VAL_COLOR = (255, 170, 60)
# Compared runs: distinct from the train/val colours and from each other; cycles past six.
OVERLAY_COLORS = (
    (90, 210, 120),
    (230, 80, 80),
    (180, 130, 255),
    (240, 230, 90),
    (60, 210, 210),
    (255, 130, 200),
)


@dataclass(frozen=True)
class OverlaySeries:
    """Another run's loss curve: validation loss per evaluation, else smoothed train loss."""

    label: str
    steps: list[int]
    losses: list[float]


def bucket_means(xs: list[int], ys: list[float], limit: int = MAX_POINTS) -> tuple[list, list]:
    """Average consecutive points so at most ``limit`` remain (keeps the curve's shape)."""
    n = len(xs)
    if n <= limit:
        return list(xs), list(ys)
    size = -(-n // limit)
    out_x, out_y = [], []
    for start in range(0, n, size):
        chunk_y = ys[start : start + size]
        out_x.append(xs[min(start + size, n) - 1])
        out_y.append(sum(chunk_y) / len(chunk_y))
    return out_x, out_y


def thin(marks: list[int], limit: int = MAX_MARKS) -> list[int]:
    """At most ``limit`` evenly spread marks: a tiny corpus has an epoch every few steps, and
    hundreds of vertical lines would hide the curves."""
    if len(marks) <= limit:
        return marks
    stride = -(-len(marks) // limit)
    return marks[stride - 1 :: stride]


def step_ticks(first: int, last: int, count: int = 5) -> list[int]:
    """Whole-number step ticks from ``first`` to ``last`` (plotext would print 757.5)."""
    if last <= first:
        return [first]
    return sorted({round(first + (last - first) * i / (count - 1)) for i in range(count)})


class LossChart(ChartBase):
    """Train loss per step and val loss per evaluation on one set of axes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.train_steps: list[int] = []
        self.train_loss: list[float] = []
        self.val_steps: list[int] = []
        self.val_loss: list[float] = []
        self.epoch_steps: list[int] = []
        self.change_steps: list[int] = []
        self.overlays: list[OverlaySeries] = []
        self.resets = 0  # the metric grid clears its other series when this moves
        self.smoothed = Smoothed()

    def reset(self) -> None:
        """Forget every point (a new run starts)."""
        self.resets += 1
        self.smoothed.clear()
        for series in (self.train_steps, self.train_loss, self.val_steps, self.val_loss):
            series.clear()
        self.epoch_steps.clear()
        self.change_steps.clear()
        self._dirty = True

    def add_steps(self, steps: list[tuple[int, float]]) -> None:
        """Append (step, loss) pairs; non-finite losses are skipped (they cannot be drawn)."""
        for step, loss in steps:
            if loss == loss and abs(loss) != float("inf"):
                self.train_steps.append(step)
                self.train_loss.append(loss)
        self._dirty = self._dirty or bool(steps)

    def add_eval(self, step: int, val_loss: float) -> None:
        """Append one validation point."""
        self.val_steps.append(step)
        self.val_loss.append(val_loss)
        self._dirty = True

    def add_epoch(self, step: int) -> None:
        """Mark an epoch boundary after ``step``."""
        self.epoch_steps.append(step)
        self._dirty = True

    def add_change(self, step: int) -> None:
        """Mark a live config change (for example a new learning rate) at ``step``."""
        self.change_steps.append(step)
        self._dirty = True

    def set_overlay(self, overlays: list[OverlaySeries]) -> None:
        """Show these runs' curves beside the current one (replaces any previous overlay)."""
        self.overlays = list(overlays)
        self._dirty = True

    def clear_overlay(self) -> bool:
        """Remove the compared runs; False when there were none."""
        had = bool(self.overlays)
        self.overlays = []
        self._dirty = True
        return had

    def draw(self, axis: str, at: int | None) -> None:
        """The marks, then train loss (smoothed, bucketed), val loss and compared runs."""
        view, clock = self.view, self.clock
        last = max(self.train_steps[-1:] + self.val_steps[-1:], default=0)
        smoothed = self.smoothed.of(self.train_loss, view.smoothing)
        train_steps, train_loss = window(self.train_steps, smoothed, view.last_n, last)
        val_steps, val_loss = window(self.val_steps, self.val_loss, view.last_n, last)
        values = [f"loss {format_value(value_at(train_steps, train_loss, at))}"]
        if val_loss:
            values.append(f"val {format_value(value_at(val_steps, val_loss, at))}")
        title = self.heading(" · ".join(values))
        overlays = [o for o in self.overlays if o.steps] if axis == "step" else []
        marks = self.epoch_steps or self.change_steps or at is not None
        plt = self.begin(title, axis, empty=not (train_steps or val_steps or overlays or marks))
        if plt is None:
            return
        steps, ys = bucket_means(train_steps, train_loss)
        xs = clock.x(steps, axis)
        val_xs = clock.x(val_steps, axis)
        x_ticks(plt, xs + val_xs + [float(s) for o in overlays for s in o.steps], axis)
        val_ys = val_loss
        overlay_ys = [o.losses for o in overlays]
        ys, val_ys, *overlay_ys = self.y_axis(plt, ys, val_ys, *overlay_ys)
        first = train_steps[0] if train_steps else (val_steps[0] if val_steps else 0)
        self.mark(plt, axis, thin([s for s in self.epoch_steps if s >= first]), EPOCH)
        self.mark(plt, axis, [s for s in self.change_steps if s >= first], CHANGE)
        if xs:
            plt.plot(xs, ys, color=TRAIN_COLOR, label="train", marker="braille")
        if val_xs:
            plt.plot(val_xs, val_ys, color=VAL_COLOR, label="val", marker="dot")
        for i, (overlay, values_) in enumerate(zip(overlays, overlay_ys, strict=True)):
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            plt.plot(overlay.steps, values_, color=color, label=overlay.label, marker="dot")
        self.finish(plt, axis, at)
