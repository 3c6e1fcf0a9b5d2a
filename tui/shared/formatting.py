"""Small formats shared by the CLI's output and the dashboard (no UI imports): durations,
live changes, smoothed series. The dashboard never imports the CLI's output modules."""

from __future__ import annotations

import math
from typing import Any


def format_change(name: str, old: Any, new: Any, step: int) -> str:
    """A live change as one short phrase: ``learning_rate 0.001 → 0.0005 @120``."""

    def short(value: Any) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    return f"{name} {short(old)} → {short(new)} @{step:,}"


def format_duration(seconds: float | None) -> str:
    """``1h02m03s`` / ``2m03s`` / ``4s``; '—' when unknown (None, NaN, infinite, negative)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def format_metric(value: float, decimals: int = 3) -> str:
    """A loss or perplexity for people: fixed decimals while short, else scientific.

    An untrained or diverged model has perplexities like 1e304; printed with ``.3f`` that is a
    line of 300 digits.
    """
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e6:
        return f"{value:.{decimals}e}"
    return f"{value:.{decimals}f}"


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average, so a noisy per-step loss reads as a curve."""
    if window <= 1:
        return list(values)
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
