"""Small modal questions: a line of text (tags, a note, a filter) and a yes/no confirmation."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from tui.dashboard.screens.dismiss_once import DismissOnce

CSS_FILE = Path(__file__).parent / "experiments.tcss"


class TextPrompt(DismissOnce, ModalScreen[str | None]):
    """Ask for one line of text; Enter answers it, Esc answers None."""

    CSS_PATH = CSS_FILE
    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012 (Textual's own idiom)

    def __init__(self, question: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt-box"):
            yield Label(escape(self.question), classes="prompt-question")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
            yield Label("Enter to save · Esc to cancel", classes="prompt-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _answer(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(DismissOnce, ModalScreen[bool]):
    """A yes/no question: y confirms; n or Esc declines (declining is the default)."""

    CSS_PATH = CSS_FILE
    BINDINGS = [  # noqa: RUF012 (Textual's own idiom)
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt-box"):
            yield Label(escape(self.question), classes="prompt-question")
            yield Label("y yes · n / Esc no", classes="prompt-hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
