"""GenerationPane: a prompt, sampling settings, and text streamed character by character.

Sampling runs in a thread worker of this widget on a *copy* of the weights (the trainer's
``snapshot()`` or a model loaded from a checkpoint), so it never touches the training model.
Characters travel as :class:`GenerationChunk` messages flushed every ``FLUSH_S`` seconds: the
text still appears one character at a time to the eye, but a fast model cannot flood the UI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Log
from textual.worker import Worker, WorkerState, get_current_worker

from engine.sampling import SampleSettings, generate_stream
from tui.messages import GenerationChunk, GenerationEnded

FLUSH_S = 0.03
TEMPERATURE_STEP = 0.1
TOP_K_STEPS = (0, 1, 2, 3, 5, 10, 20, 40, 80)
TOP_P_STEP = 0.05

ModelSource = Callable[[], "tuple[Any, Any, str] | None"]
"""Returns (model, tokenizer, description) from any thread, or None when no model exists."""


class GenerationPane(Vertical):
    """Prompt input, settings line, and the streamed output."""

    def __init__(self, source: ModelSource, *, length: int = 300, id: str | None = None):
        super().__init__(id=id)
        self.source = source
        self.temperature = 0.8
        self.top_k = 0
        self.top_p = 1.0
        self.length = length
        self.seed = 1337
        self.state = "idle"  # idle, generating, done, stopped, failed
        self.output = ""
        self.prompt_used = ""
        self.source_name = ""
        self._generation_id = 0
        self._worker: Worker | None = None

    def compose(self) -> ComposeResult:
        yield Input("ROMEO:", placeholder="prompt (Enter or g generates)", id="gen-prompt")
        yield Label("", id="gen-settings")
        yield Log(id="gen-output", highlight=False, auto_scroll=True)

    def on_mount(self) -> None:
        self.settings_label = self.query_one("#gen-settings", Label)
        # A Log appends lines without a screen-wide layout per chunk (a growing Static
        # would relayout every widget 30 times a second).
        self.output_widget = self.query_one("#gen-output", Log)
        self._column = 0
        self.prompt_input = self.query_one("#gen-prompt", Input)
        self._show_settings()

    # --- settings ----------------------------------------------------------------------
    def settings(self) -> SampleSettings:
        return SampleSettings(
            length=self.length,
            temperature=round(self.temperature, 2),
            top_k=self.top_k,
            top_p=round(self.top_p, 2),
            seed=self.seed,
        )

    def _show_settings(self) -> None:
        top_k = str(self.top_k) if self.top_k else "off"
        top_p = f"{self.top_p:.2f}" if self.top_p < 1 else "off"
        source = f" · from {self.source_name}" if self.source_name else ""
        self.settings_label.update(
            f"{self.state} · temperature {self.temperature:.1f} · top-k {top_k} · "
            f"top-p {top_p}{source}",
            layout=False,  # fixed size: skip a screen-wide layout on every key press
        )

    def change_temperature(self, delta: float) -> None:
        """Step the temperature, clamped to [0, 5] (0 = greedy)."""
        self.temperature = round(min(5.0, max(0.0, self.temperature + delta)), 2)
        self._show_settings()

    def change_top_k(self, direction: int) -> None:
        """Move top-k one notch along TOP_K_STEPS (0 = off)."""
        steps = TOP_K_STEPS
        index = max((i for i, k in enumerate(steps) if k <= self.top_k), default=0)
        self.top_k = steps[min(len(steps) - 1, max(0, index + direction))]
        self._show_settings()

    def change_top_p(self, delta: float) -> None:
        """Step top-p, clamped to [0.05, 1] (1 = off)."""
        self.top_p = round(min(1.0, max(TOP_P_STEP, self.top_p + delta)), 2)
        self._show_settings()

    # --- generation --------------------------------------------------------------------
    @on(Input.Submitted, "#gen-prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.generate()

    def generate(self) -> None:
        """Start (or restart) a generation from the prompt with the current settings."""
        self._generation_id += 1
        self.prompt_used = self.prompt_input.value
        self.output = ""
        self.state = "generating"
        self._render_output()
        self._show_settings()
        self._worker = self._sample(self._generation_id, self.prompt_used, self.settings())

    def stop(self) -> bool:
        """Stop the current generation; False when none was going."""
        if self._worker is None or self._worker.state not in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        ):
            return False
        self._worker.cancel()
        return True

    @property
    def is_generating(self) -> bool:
        return self.state == "generating"

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def _sample(self, generation_id: int, prompt: str, settings: SampleSettings) -> None:
        worker = get_current_worker()
        try:
            found = self.source()
            if found is None:
                self.post_message(
                    GenerationEnded(
                        generation_id,
                        "failed",
                        "No model yet: start training (s) or open a run with --run.",
                    )
                )
                return
            model, tokenizer, name = found
            self.post_message(GenerationChunk(generation_id, "", source=name))
            pending: list[str] = []
            last = time.monotonic()
            for char in generate_stream(model, tokenizer, prompt, settings):
                if worker.is_cancelled:
                    self.post_message(GenerationChunk(generation_id, "".join(pending)))
                    self.post_message(GenerationEnded(generation_id, "stopped"))
                    return
                pending.append(char)
                now = time.monotonic()
                if now - last >= FLUSH_S:
                    self.post_message(GenerationChunk(generation_id, "".join(pending)))
                    pending, last = [], now
            self.post_message(GenerationChunk(generation_id, "".join(pending)))
            self.post_message(GenerationEnded(generation_id, "done"))
        except Exception as exc:  # a bad prompt or a broken checkpoint: say so, keep the UI
            self.post_message(GenerationEnded(generation_id, "failed", str(exc)))

    def on_generation_chunk(self, message: GenerationChunk) -> None:
        message.stop()
        if message.generation_id != self._generation_id:
            return
        if message.source:
            self.source_name = message.source
            self._show_settings()
        if message.text:
            self.output += message.text
            self._write(message.text)

    def on_generation_ended(self, message: GenerationEnded) -> None:
        if message.generation_id != self._generation_id:
            message.stop()
            return
        self.state = message.reason
        self._show_settings()
        if message.error:
            self.output_widget.clear()
            self._column = 0
            self._write(message.error)
        # Not stopped: the app hears about generations ending (tests wait for it).

    def _render_output(self) -> None:
        self.output_widget.clear()
        self._column = 0
        self._write(self.prompt_used)

    def _write(self, text: str) -> None:
        """Append ``text``, wrapping long lines at a space near the pane's edge (Log does not
        wrap); a line with no space is cut at the edge."""
        width = self.output_widget.scrollable_content_region.width - 1
        if width < 20:  # not laid out yet (a hidden tab): a typical pane width
            width = 60
        pieces: list[str] = []
        for char in text:
            if char == "\n":
                self._column = 0
            elif char == " " and self._column >= width - 12:
                char, self._column = "\n", 0
            elif self._column >= width:
                pieces.append("\n")
                self._column = 1
            else:
                self._column += 1
            pieces.append(char)
        self.output_widget.write("".join(pieces))
