"""Small text formats shared by the CLI's rich output and the dashboard (no UI imports)."""

from __future__ import annotations

import math


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
