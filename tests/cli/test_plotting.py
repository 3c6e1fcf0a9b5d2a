"""The terminal chart can be drawn many times in one process (plotext keeps global state)."""

from __future__ import annotations

from engine.run.summary import Curves
from tui.cli.plotting import terminal_plot


def _curves(steps: int, every: int) -> Curves:
    val = list(range(every, steps + 1, every))
    return Curves(
        train_steps=list(range(1, steps + 1)),
        train_loss=[4.0 - 0.1 * i for i in range(steps)],
        val_steps=val,
        val_loss=[3.0 - 0.1 * i for i in range(len(val))],
        train_eval_loss=[3.0] * len(val),
        perplexity=[20.0 - i for i in range(len(val))],
        bits_per_char=[1.5] * len(val),
        epoch_steps=[],
    )


def test_a_second_chart_is_drawn_as_if_it_were_the_first() -> None:
    terminal_plot(_curves(4, 4), "first")
    second = terminal_plot(_curves(12, 5), "second")
    assert second == terminal_plot(_curves(12, 5), "second")
    assert "second: loss" in second and "first" not in second
