"""The terminal display prints engine text (errors, notices) as text, never as markup."""

from __future__ import annotations

import io

from rich.console import Console

from engine.events import RunFailed, RunNotice
from tui.console import TrainingDisplay


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
