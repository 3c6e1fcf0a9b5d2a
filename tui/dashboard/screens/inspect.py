"""InspectScreen: see inside the model: surprise, attention, cells, embeddings, timeline.

Every analysis runs in a thread worker on a snapshot of the weights (the session's
``model_source``: a copy of the live weights while training, else the opened checkpoint);
a newer request cancels the older one (exclusive worker) and a cancelled result is dropped.
While a run trains, the view recomputes every ``REFRESH_S`` seconds. Moving the cursor or the
selection only re-renders the last result: no model call on a key press.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from tui.dashboard.screens.dismiss_once import DismissOnce
from tui.dashboard.screens.inspect_views import VIEWS, View, ViewState
from tui.dashboard.widgets.inspect_pane import InspectPane
from tui.dashboard.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from tui.dashboard.session import RunSession

REFRESH_S = 5.0  # a snapshot and one forward pass: cheap, but not per step
PASSAGE_CHARS = 240  # what fits an 80x24 screen beside the side panel
FALLBACK_TEXT = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and "
    "Juliet is the sun.\n\nJULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\nDeny thy "
    "father and refuse thy name.\n"
)

ModelSource = Callable[[], "tuple[Any, Any, str] | None"]


class Computed(Message):
    """A view's result (or the error that replaced it), from the worker."""

    def __init__(self, view: str, result: Any, label: str, text: str, error: str = "") -> None:
        super().__init__()
        self.view, self.result, self.label, self.text, self.error = view, result, label, text, error


class InspectScreen(DismissOnce, Screen[None]):
    """The Inspect views over the app's current model (keys in tui/dashboard/KEYS.md)."""

    CSS_PATH = Path(__file__).parent / "inspect.tcss"
    BINDINGS = [  # noqa: RUF012
        *(Binding(v.key, f"view('{v.name}')", v.name.capitalize()) for v in VIEWS),
        Binding("left", "cursor(-1)", "←", show=False),
        Binding("right", "cursor(1)", "→", show=False),
        Binding("shift+left", "cursor(-10)", "←10", show=False),
        Binding("shift+right", "cursor(10)", "→10", show=False),
        Binding("up", "select(-1)", "↑", show=False),
        Binding("down", "select(1)", "↓", show=False),
        Binding("n", "new_passage", "New text"),
        Binding("slash", "type_text", "Type", key_display="/"),
        Binding("k", "kind", "h/c", show=False),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("escape,i", "close", "Close"),
    ]

    def __init__(
        self,
        source: ModelSource,
        *,
        config: Any,
        run_dir: Path | None,
        live: Callable[[], bool] = lambda: False,
        color: bool = True,
        prompt: Callable[[], str] = lambda: "",
    ) -> None:
        super().__init__()
        self.source = source
        self.config = config
        self.run_dir = run_dir
        self.live = live
        self.color = color
        self.prompt = prompt  # the Generate tab's prompt: what "/" starts from
        self.view: View = VIEWS[0]
        self.states = {v.name: ViewState() for v in VIEWS}
        self.results: dict[str, Any] = {}
        self.text: str | None = None  # None: a validation passage, chosen in the worker
        self.passage_seed = 0
        self._validation: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="inspect-title")
        yield Input(
            placeholder="type a text, Enter inspects it, Esc cancels", id="inspect-text-box"
        )
        yield InspectPane(id="inspect-pane")
        yield Static("", id="inspect-status")
        yield KeyFooter(show_command_palette=False)  # as the dashboard: the row is full

    def on_mount(self) -> None:
        self.pane = self.query_one(InspectPane)
        self.title_bar = self.query_one("#inspect-title", Static)
        self.status = self.query_one("#inspect-status", Static)
        self._computed_at = 0.0
        # Ticks often, computes when due: at once while the view has no result yet (the run
        # just started), else every REFRESH_S.
        self.set_interval(min(1.0, REFRESH_S), self._refresh_if_live)
        self._show_title("")
        self.compute()

    # --- computing (worker) ----------------------------------------------------------
    def compute(self) -> None:
        """Recompute the current view from a fresh snapshot of the weights."""
        self.status.update(f"computing {self.view.name}…")
        self._computed_at = time.monotonic()
        self._compute(self.view, self.text, self.passage_seed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="inspect")
    def _compute(self, view: View, text: str | None, seed: int) -> None:
        worker = get_current_worker()
        label, result, error = "", None, ""
        try:
            source = self.source()
            if source is None:
                raise ValueError("No model yet: start training (s) or open a run (--run).")
            model, tokenizer, label = source
            if text is None and view.needs_text:
                text = self._passage(tokenizer, seed)
            if view.needs_text and hasattr(model, "block_size") and view.name == "attention":
                text = (text or "")[-model.block_size :]
            result = view.compute(
                model, tokenizer, self.config.seq_length, text or "", self.run_dir
            )
        except Exception as exc:  # a user-facing reason, shown in the view
            error = str(exc) or type(exc).__name__
        if not worker.is_cancelled:
            self.post_message(Computed(view.name, result, label, text or "", error))

    def _passage(self, tokenizer: Any, seed: int) -> str:
        """A validation passage (the first, then random ones), or a fallback text."""
        from engine.analysis.passages import passage, validation_text

        if self._validation is None:
            try:
                self._validation = validation_text(self.config, tokenizer, download=False)
            except Exception:  # no corpus here: a known text in the model's vocabulary
                self._validation = "".join(c for c in FALLBACK_TEXT if not tokenizer.unknown(c))
        position = 0 if seed == 0 else None
        return passage(self._validation, PASSAGE_CHARS, position, seed)

    @on(Computed)
    def _computed(self, message: Computed) -> None:
        if message.view != self.view.name:
            return  # the user moved to another view meanwhile
        self._show_title(message.label)
        if message.error:
            self.results.pop(message.view, None)
            self.pane.show(Text(message.error), Text(""))
            self.status.update(self.view.hint)
            return
        self.results[message.view] = message.result
        self.render_view()

    def _refresh_if_live(self) -> None:
        if not self.live() or self._busy():
            return
        due = time.monotonic() - self._computed_at >= REFRESH_S
        if due or self.view.name not in self.results:
            self.compute()

    def _busy(self) -> bool:
        return any(w.group == "inspect" and w.is_running for w in self.workers)

    # --- drawing (UI thread, no model) -------------------------------------------------
    def _show_title(self, label: str) -> None:
        title = Text()
        for v in VIEWS:
            title.append(f" {v.key} {v.name} ", style="reverse" if v is self.view else "")
        title.append(f" · {label}" if label else "")
        self.title_bar.update(title)

    def render_view(self) -> None:
        """Draw the current view's last result at the current cursor and selection."""
        result = self.results.get(self.view.name)
        if result is None:
            return
        state = self.states[self.view.name]
        main, side = self.view.render(result, state, color=self.color, width=self.pane.text_width)
        self.pane.show(main, side)
        self.status.update(self.view.hint)

    # --- keys ------------------------------------------------------------------------
    def action_view(self, name: str) -> None:
        self.view = next(v for v in VIEWS if v.name == name)
        self._show_title("")
        if name in self.results:
            self.render_view()
        self.compute()

    def action_cursor(self, delta: int) -> None:
        result = self.results.get(self.view.name)
        size = self.view.size(result) if result is not None else 0
        if not size:
            return
        state = self.states[self.view.name]
        start = state.cursor if state.cursor >= 0 else self.view.default_cursor(result)
        state.cursor = max(0, min(size - 1, start + delta))
        self.render_view()

    def action_select(self, delta: int) -> None:
        result = self.results.get(self.view.name)
        rows = self.view.rows(result) if result is not None else 0
        if rows:
            state = self.states[self.view.name]
            state.selected = (state.selected + delta) % rows
            self.render_view()

    def action_kind(self) -> None:
        state = self.states[self.view.name]
        state.kind = "h" if state.kind == "c" else "c"
        self.render_view()

    def action_new_passage(self) -> None:
        self.text = None
        self.passage_seed = random.randrange(1, 1 << 30)
        for state in self.states.values():
            state.cursor = -1
        self.compute()

    def action_refresh(self) -> None:
        self.compute()

    def action_type_text(self) -> None:
        box = self.query_one("#inspect-text-box", Input)
        if not box.value:
            box.value = self.prompt()
        box.add_class("visible")
        box.focus()

    @on(Input.Submitted, "#inspect-text-box")
    def _typed(self, event: Input.Submitted) -> None:
        event.input.remove_class("visible")
        self.set_focus(None)
        if event.value.strip():
            self.text = event.value.replace("\\n", "\n")
            for state in self.states.values():
                state.cursor = -1
            self.compute()

    def action_close(self) -> None:
        box = self.query_one("#inspect-text-box", Input)
        if box.has_class("visible"):
            box.remove_class("visible")
            self.set_focus(None)
            return
        self.dismiss()

    def on_resize(self) -> None:
        self.call_after_refresh(self.render_view)


def open_inspect(
    session: RunSession, *, prompt: Callable[[], str], color: bool = True
) -> InspectScreen:
    """The Inspect screen over ``session``'s model: its run's config (the trainer's while one
    runs) and run folder (for the timeline); ``prompt`` is what "/" starts from."""
    config = getattr(session.trainer, "config", None) or session.initial_config
    if config is None:  # the dashboard started from RunConfig's defaults
        from engine.config.schema import RunConfig

        config = RunConfig()

    def resolve(run: str, runs_dir: Path) -> Path:
        from engine.run.folder import resolve_run

        return resolve_run(run, runs_dir).folder.path

    return InspectScreen(
        session.model_source,
        config=config,
        run_dir=session.shown_folder(resolve),
        live=lambda: session.running,
        color=color,
        prompt=prompt,
    )
