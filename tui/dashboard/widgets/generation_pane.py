"""GenerationPane: a prompt, sampling settings, and text streamed character by character.

Each character is coloured by its probability (as ``llmv0 generate --show-probs``); c shows the
five likeliest next characters. Sampling runs in this widget's thread worker on a *copy* of
the weights (the session's ``model_source``), never on the training model. Characters travel
as :class:`GenerationChunk` messages flushed every ``FLUSH_S``, so a fast model cannot flood
the UI. Each generation draws a new seed unless the seed is pinned.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Label
from textual.worker import Worker, WorkerState, get_current_worker

from tui.dashboard.messages import CandidatesReady, GenerationChunk, GenerationEnded
from tui.dashboard.model_source import ModelSource
from tui.dashboard.widgets.prob_log import ProbLog

if TYPE_CHECKING:
    # engine.generate.sampling imports torch (1.3 s): imported where generation starts, so the
    # dashboard's first frame does not wait for it (the main screen preloads it after that frame).
    from engine.generate.decoding import SampleSettings

FLUSH_S = 0.03
TEMPERATURE_STEP = 0.1
TOP_K_STEPS = (0, 1, 2, 3, 5, 10, 20, 40, 80)
TOP_P_STEP = 0.05
MIN_P_STEPS = (0.0, 0.02, 0.05, 0.1, 0.2)  # 0 = off; the key cycles and wraps
REPETITION_STEPS = (1.0, 1.1, 1.2, 1.3, 1.5)  # 1 = off
LENGTH_STEPS = (50, 100, 200, 300, 500, 1000, 2000, 5000)
SEED_LIMIT = 1_000_000  # any non-negative int seeds torch.Generator; short ones read better
CANDIDATES = 5
# Probability -> style, likeliest first: the bands of `llmv0 generate --show-probs`
# (tui/cli/generate.py; a test keeps them equal). Green was expected, red a surprise.
PROB_STYLES = tuple(
    (floor, Style.parse(name))
    for floor, name in (
        (0.8, "bold green"),
        (0.5, "green"),
        (0.2, "yellow"),
        (0.05, "dark_orange"),
        (0.0, "bold red"),
    )
)
SHOWN_CHARS = {"\n": "⏎", " ": "␣", "\t": "⇥"}


def prob_style(prob: float) -> Style:
    """The palette colour for a character the model gave probability ``prob``."""
    return next((style for floor, style in PROB_STYLES if prob >= floor), PROB_STYLES[-1][1])


def format_candidates(candidates: list[tuple[str, float]]) -> str:
    """``next: e 0.41 · ␣ 0.22 · …`` with whitespace made visible."""
    shown = (f"{SHOWN_CHARS.get(c, c)} {p:.2f}" for c, p in candidates)
    return "next: " + " · ".join(shown)


"""Returns (model, tokenizer, description) from any thread, or None when no model exists."""


class GenerationPane(Vertical):
    """Prompt input, settings line, and the streamed output."""

    def __init__(self, source: ModelSource, *, length: int = 300, id: str | None = None):
        super().__init__(id=id)
        self.source = source
        self.temperature = 0.8
        self.top_k = 0
        self.top_p = 1.0
        self.strategy = "sample"
        self.min_p = 0.0
        self.repetition_penalty = 1.0
        self.beams = 5
        self.length = length
        # A fresh seed per generation, so `g` on fixed weights shows a new sample; pinning
        # keeps the last one, so a changed setting is compared on the same random draws.
        self.seed = 1337
        self.seed_pinned = False
        self._seeds = random.Random()
        self.state = "idle"  # idle, generating, done, stopped, failed
        self.output = ""
        self.probs: list[float] = []  # one per character of ``output``
        self.candidates: list[tuple[str, float]] = []
        self.prompt_used = ""
        self.source_name = ""
        self._generation_id = 0
        self._worker: Worker | None = None

    def compose(self) -> ComposeResult:
        yield Input("ROMEO:", placeholder="prompt (Enter or g generates)", id="gen-prompt")
        yield Label("", id="gen-settings")
        yield ProbLog(id="gen-output")
        yield Label("next: c shows the likeliest characters", id="gen-candidates")

    def on_mount(self) -> None:
        self.settings_label = self.query_one("#gen-settings", Label)
        self.candidates_label = self.query_one("#gen-candidates", Label)
        # A Log appends lines without a screen-wide layout per chunk (a growing Static
        # would relayout every widget 30 times a second).
        self.output_widget = self.query_one("#gen-output", ProbLog)
        self._column = 0
        self.prompt_input = self.query_one("#gen-prompt", Input)
        self._show_settings()

    # --- settings ----------------------------------------------------------------------
    def settings(self) -> SampleSettings:
        from engine.generate.decoding import SampleSettings

        return SampleSettings(
            length=self.length,
            temperature=round(self.temperature, 2),
            top_k=self.top_k,
            top_p=round(self.top_p, 2),
            seed=self.seed,
            strategy=self.strategy,
            min_p=self.min_p,
            repetition_penalty=self.repetition_penalty,
            beams=self.beams,
        )

    def _show_settings(self) -> None:
        top_k = str(self.top_k) if self.top_k else "off"
        top_p = f"{self.top_p:.2f}" if self.top_p < 1 else "off"
        # Min-p and the repetition penalty only when on: the pane is narrow.
        min_p = f" · min-p {self.min_p:g}" if self.min_p else ""
        repetition = self.repetition_penalty
        penalty = f" · repetition {repetition:g}" if repetition != 1 else ""
        strategy = f"beam x{self.beams}" if self.strategy == "beam" else self.strategy
        source = f" · from {self.source_name}" if self.source_name else ""
        seed = f"seed {self.seed}" + (" (pinned)" if self.seed_pinned else "")
        self.settings_label.update(
            Content(
                f"{self.state} · temperature {self.temperature:.1f} · top-k {top_k} · "
                f"top-p {top_p}{min_p}{penalty} · {strategy} · length {self.length} · "
                f"{seed}{source}"
            ),
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

    def cycle_strategy(self) -> None:
        """sample → greedy → beam → sample (the next generation uses it)."""
        from engine.generate.decoding import STRATEGIES

        self.strategy = STRATEGIES[(STRATEGIES.index(self.strategy) + 1) % len(STRATEGIES)]
        self._show_settings()

    def cycle_min_p(self) -> None:
        """Min-p one notch up along MIN_P_STEPS, wrapping to off."""
        self.min_p = _next_step(MIN_P_STEPS, self.min_p)
        self._show_settings()

    def cycle_repetition(self) -> None:
        """Repetition penalty one notch up along REPETITION_STEPS, wrapping to off."""
        self.repetition_penalty = _next_step(REPETITION_STEPS, self.repetition_penalty)
        self._show_settings()

    def change_length(self, direction: int) -> None:
        """Move the generation length one notch along LENGTH_STEPS."""
        steps = LENGTH_STEPS
        index = max((i for i, n in enumerate(steps) if n <= self.length), default=0)
        self.length = steps[min(len(steps) - 1, max(0, index + direction))]
        self._show_settings()

    def toggle_seed_pin(self) -> None:
        """Pin the current seed (every generation reuses it) or unpin (a new one each time)."""
        self.seed_pinned = not self.seed_pinned
        self._show_settings()

    # --- generation --------------------------------------------------------------------
    @on(Input.Submitted, "#gen-prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.generate()

    def generate(self) -> None:
        """Start (or restart) a generation from the prompt with the current settings."""
        self._generation_id += 1
        if not self.seed_pinned:
            self.seed = self._seeds.randrange(SEED_LIMIT)
        self.prompt_used = self.prompt_input.value
        self.output = ""
        self.probs = []
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
            chars: list[str] = []
            probs: list[float] = []
            last = time.monotonic()
            from engine.generate.sampling import generate_stream_with_probs

            for item in generate_stream_with_probs(model, tokenizer, prompt, settings):
                if worker.is_cancelled:
                    self.post_message(GenerationChunk(generation_id, "".join(chars), probs=probs))
                    self.post_message(GenerationEnded(generation_id, "stopped"))
                    return
                chars.append(item.char)
                probs.append(item.prob)
                now = time.monotonic()
                if now - last >= FLUSH_S:
                    self.post_message(GenerationChunk(generation_id, "".join(chars), probs=probs))
                    chars, probs, last = [], [], now
            self.post_message(GenerationChunk(generation_id, "".join(chars), probs=probs))
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
            self.probs.extend(message.probs)
            self._write(message.text, [prob_style(p) for p in message.probs])

    def on_generation_ended(self, message: GenerationEnded) -> None:
        if message.generation_id != self._generation_id:
            message.stop()
            return
        self.state = message.reason
        self._show_settings()
        if message.reason in {"done", "stopped"}:
            self.show_candidates()  # the top-5 line follows the text it describes
        if message.error:
            self.output_widget.clear()
            self._column = 0
            self._write(message.error)
        # Not stopped: the app hears about generations ending (tests wait for it).

    def _render_output(self) -> None:
        self.output_widget.clear()
        self._column = 0
        self._write(self.prompt_used)

    def _write(self, text: str, styles: list[Style] | None = None) -> None:
        """Append ``text`` (character i in ``styles[i]``), wrapping long lines at a space
        near the pane's edge (Log does not wrap); a line with no space is cut at the edge."""
        width = self.output_widget.scrollable_content_region.width - 1
        if width < 20:  # not laid out yet (a hidden tab): a typical pane width
            width = 60
        pieces: list[str] = []
        piece_styles: list[Style | None] = []
        for char, style in zip(text, styles or [None] * len(text), strict=True):
            if char == "\n":
                self._column = 0
            elif char == " " and self._column >= width - 12:
                char, self._column = "\n", 0
            elif self._column >= width:
                pieces.append("\n")
                piece_styles.append(None)
                self._column = 1
            else:
                self._column += 1
            pieces.append(char)
            piece_styles.append(style)
        self.output_widget.write_styled("".join(pieces), piece_styles)

    def styled_output(self) -> Text:
        """The generated text with its probability colours (prompt excluded)."""
        text = Text()
        for char, prob in zip(self.output, self.probs, strict=False):
            text.append(char, prob_style(prob))
        return text

    # --- what the model expects next ---------------------------------------------------
    def show_candidates(self) -> None:
        """Compute the top next characters after the prompt and the text so far."""
        self.candidates_label.update("next: …", layout=False)
        started = self.state in {"generating", "done", "stopped"}
        self._candidates(self.prompt_used + self.output if started else self.prompt_input.value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="candidates")
    def _candidates(self, text: str) -> None:
        try:
            found = self.source()
            if found is None:
                self.post_message(CandidatesReady([], "next: no model yet (s trains one)"))
                return
            model, tokenizer, _ = found
            from engine.generate.sampling import next_char_candidates

            candidates = next_char_candidates(model, tokenizer, text, k=CANDIDATES)
            self.post_message(CandidatesReady(candidates))
        except Exception as exc:  # an unknown prompt character: say so, keep the UI
            self.post_message(CandidatesReady([], f"next: {exc}"))

    def on_candidates_ready(self, message: CandidatesReady) -> None:
        message.stop()
        self.candidates = message.candidates
        line = message.error or format_candidates(message.candidates)
        self.candidates_label.update(Content(line), layout=False)  # "[" is a character


def _next_step(steps: tuple[float, ...], value: float) -> float:
    """The value after ``value`` in ``steps``, wrapping to the first."""
    above = [s for s in steps if s > value + 1e-9]
    return above[0] if above else steps[0]
