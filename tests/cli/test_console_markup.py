"""The terminal display prints engine text (errors, notices) as text, never as markup."""

from __future__ import annotations

import io

from rich.console import Console

from engine.events import RunFailed, RunNotice
from tui.cli.console import TrainingDisplay


def test_failure_and_notice_texts_with_brackets_print_verbatim() -> None:
    buffer = io.StringIO()
    display = TrainingDisplay(Console(file=buffer, width=200, color_system=None))
    # A gloo error names its source file in brackets; Rich read "[/__w/...]" as a closing
    # tag, raised MarkupError and the failure was never shown.
    error = "Gloo connectFullMesh failed with [/__w/gloo/pair.cc:152] timed out [bold]x"
    display(RunFailed(error=error, step=3))
    display(RunNotice(kind="compiling", message="kept [/] eager [red]"))
    printed = buffer.getvalue()
    assert error in printed
    assert "kept [/] eager [red]" in printed


def test_the_status_line_left_at_the_end_shows_the_final_evaluation() -> None:
    """The final evaluation runs after the last step: the last line on screen showed the
    evaluation before it, and the ETA of the evaluation still to come."""
    from engine.events import EvalCompleted, RunFinished, StepCompleted

    display = TrainingDisplay(Console(file=io.StringIO(), width=200, color_system=None))

    def evaluation(step: int, val: float) -> EvalCompleted:
        return EvalCompleted(
            step=step, epoch=0, train_loss=1.2, val_loss=val, perplexity=4.0,
            bits_per_char=2.0, best_val_loss=val, is_best=True,
        )  # fmt: skip

    display(evaluation(50, 1.5492))
    last = StepCompleted(
        step=100, epoch=0, loss=1.14, lr=1e-6, tokens_per_s=11_000.0, grad_norm=0.5,
        elapsed_s=99.0, total_steps=100, eta_s=10.0,
    )  # fmt: skip
    display(last)
    assert "val 1.5492" in display.stats.plain and "ETA 10s" in display.stats.plain
    display(evaluation(100, 1.4121))
    assert "val 1.4121" in display.stats.plain
    display(RunFinished(step=100, reason="completed", elapsed_s=100.0, best_val_loss=1.4121))
    assert "val 1.4121" in display.stats.plain and "ETA 0s" in display.stats.plain
