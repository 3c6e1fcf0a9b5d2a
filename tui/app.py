"""The llmv0 dashboard: edit a config, train, watch the curves, stream text; one terminal.

:func:`make_app` builds the app for the CLI and for tests (tests pass a scripted trainer
factory); :func:`run_dashboard` is what ``llmv0-tui`` calls. Training runs in a thread worker
and reaches the UI only through ``post_message``: steps go through a coalescing buffer, other
events one message each. Timers redraw the status twice a second and changed charts just
under once a second.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Input, Select, TabbedContent, TabPane

from engine import events as ev
from engine.config import ConfigError, RunConfig, load_config
from engine.control import Control
from tui.messages import DrainBuffer, EngineEvent, GenerationEnded, StepsReady
from tui.screens.help import HelpScreen, key_rows
from tui.screens.too_small import MIN_HEIGHT, MIN_WIDTH, TooSmallScreen
from tui.widgets.config_editor import ConfigEditor
from tui.widgets.generation_pane import GenerationPane
from tui.widgets.loss_chart import LossChart
from tui.widgets.metric_chart import MetricChart
from tui.widgets.samples_pager import SamplesPager
from tui.widgets.status_bar import RunStats, RunStatus

STATUS_REFRESH_S = 0.5  # a status redraw is cheap; elapsed time ticks visibly
# A chart rebuild costs ~20 ms of Python (plotext) that competes with the trainer for the GIL:
# redrawing just under once a second keeps the curves live and the dashboard's training
# throughput within a few percent of headless (bench/tui_overhead.py).
CHART_REFRESH_S = 0.9
STOP_TIMEOUT_S = 300  # a stop waits for the current step and a checkpoint save
ACTIVE_STATES = frozenset({"starting", "running", "paused", "stopping"})


class TrainerLike(Protocol):
    """What the dashboard needs from engine.trainer.Trainer (tests inject a scripted fake)."""

    run_id: str

    def run(self, sink: ev.Sink, control: Control | None = None) -> ev.Event: ...

    def snapshot(self) -> tuple[Any, Any] | None: ...


TrainerFactory = Callable[[RunConfig, "str | None"], TrainerLike]
"""(config, resume) -> trainer; ``resume`` is the run given with --run, or None."""


def default_trainer_factory(runs_dir: str | Path = "checkpoints") -> TrainerFactory:
    """Real trainers writing run folders under ``runs_dir`` (imported lazily: torch is slow)."""

    def make(config: RunConfig, resume: str | None) -> TrainerLike:
        from engine.trainer import Trainer

        return Trainer(config, runs_dir=runs_dir, resume=resume)

    return make


class Dashboard(App[int]):
    """Status on top, charts left, config/generation/samples tabs right, controls below."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "llmv0"
    AUTO_FOCUS = None  # letter keys act at once; Tab or a click enters a text box
    ENABLE_COMMAND_PALETTE = False  # every action has a key; the footer needs the room
    BINDINGS = [  # noqa: RUF012 (Textual's own idiom)
        Binding("s", "start", "Start", tooltip="Start training with the editor's config"),
        Binding("p", "pause", "Pause", tooltip="Pause / resume training"),
        Binding("x", "stop", "Stop", tooltip="Stop training (saves a checkpoint first)"),
        Binding("w", "save", "Save", tooltip="Save a checkpoint now"),
        Binding("g", "generate", "Generate", tooltip="Generate / regenerate from the prompt"),
        Binding(
            "escape",
            "escape",
            "Stop gen",
            show=False,
            tooltip="Stop the generation, else leave the text box",
        ),
        Binding(
            "left_square_bracket",
            "temperature(-1)",
            "Temp-",
            key_display="[",
            tooltip="Temperature down 0.1",
        ),
        Binding(
            "right_square_bracket",
            "temperature(1)",
            "Temp+",
            key_display="]",
            tooltip="Temperature up 0.1",
        ),
        Binding(
            "left_curly_bracket",
            "top_k(-1)",
            "Top-k-",
            show=False,
            key_display="{",
            tooltip="Top-k one notch down (0 = off)",
        ),
        Binding(
            "right_curly_bracket",
            "top_k(1)",
            "Top-k+",
            show=False,
            key_display="}",
            tooltip="Top-k one notch up",
        ),
        Binding(
            "minus", "top_p(-1)", "Top-p-", show=False, key_display="-", tooltip="Top-p down 0.05"
        ),
        Binding(
            "equals_sign,plus",
            "top_p(1)",
            "Top-p+",
            show=False,
            key_display="=",
            tooltip="Top-p up 0.05 (1 = off)",
        ),
        Binding(
            "comma",
            "page(-1)",
            "Prev sample",
            show=False,
            key_display=",",
            tooltip="Previous training sample",
        ),
        Binding(
            "full_stop",
            "page(1)",
            "Next sample",
            show=False,
            key_display=".",
            tooltip="Next training sample",
        ),
        Binding("l", "log_scale", "Log", show=False, tooltip="Charts: log / linear y axis"),
        Binding(
            "b", "bits", "Bits", show=False, tooltip="Second chart: perplexity / bits per character"
        ),
        Binding("1", "tab('config')", "Config", show=False, tooltip="Config tab"),
        Binding("2", "tab('generate')", "Gen tab", show=False, tooltip="Generate tab"),
        Binding("3", "tab('samples')", "Samples", show=False, tooltip="Samples tab"),
        Binding("e", "edit", "Edit", show=False, tooltip="Edit the config (first field)"),
        Binding(
            "question_mark,f1", "help", "Help", key_display="?", tooltip="This help (Esc closes it)"
        ),
        Binding("q", "quit", "Quit", tooltip="Quit (a run is stopped with a checkpoint first)"),
        Binding(
            "ctrl+c",
            "quit",
            "Quit",
            show=False,
            priority=True,
            tooltip="Quit, like q (twice: quit at once)",
        ),
    ]

    def __init__(
        self,
        config: RunConfig,
        trainer_factory: TrainerFactory,
        *,
        config_path: str = "",
        run: str | None = None,
        loaded: tuple[Any, Any, str] | None = None,
        history: list[ev.Event] | None = None,
    ) -> None:
        super().__init__()
        self.initial_config = config
        self.trainer_factory = trainer_factory
        self.config_path = config_path
        self.resume = run
        self.loaded = loaded
        self.history = history or []
        self.stats = RunStats()
        self.control: Control | None = None
        self.trainer: TrainerLike | None = None
        self.terminal_event: ev.Event | None = None
        self.quitting = False
        self._steps: DrainBuffer[ev.StepCompleted] = DrainBuffer()
        self.train_done = threading.Event()  # set when no trainer thread is running
        self.train_done.set()

    def compose(self) -> ComposeResult:
        yield RunStatus(id="status")
        with Horizontal(id="body"):
            with Vertical(id="charts"):
                yield LossChart(id="loss-chart")
                yield MetricChart(id="metric-chart")
            with TabbedContent(id="side", initial="generate" if self.loaded else "config"):
                with TabPane("Config [1]", id="config"):
                    yield ConfigEditor(self.initial_config, self.config_path, id="editor")
                with TabPane("Generate [2]", id="generate"):
                    yield GenerationPane(self.model_source, id="generation")
                with TabPane("Samples [3]", id="samples"):
                    yield SamplesPager(id="pager")
        with Horizontal(id="controls"):
            yield Button("Start s", id="btn-start", variant="success")
            yield Button("Pause p", id="btn-pause")
            yield Button("Stop x", id="btn-stop", variant="error")
            yield Button("Save w", id="btn-save")
            yield Button("Generate g", id="btn-generate", variant="primary")
            yield Button("Help ?", id="btn-help")
        yield Footer()

    def on_mount(self) -> None:
        # Cached once: a query walks hundreds of editor widgets, too slow per event.
        self.loss_chart = self.query_one(LossChart)
        self.metric_chart = self.query_one(MetricChart)
        self.status = self.query_one(RunStatus)
        self.editor = self.query_one(ConfigEditor)
        self.generation = self.query_one(GenerationPane)
        self.pager = self.query_one(SamplesPager)
        self.tabs = self.query_one(TabbedContent)
        self.buttons = {b.id: b for b in self.query("#controls Button").results(Button)}
        for event in self.history:
            self.apply_event(event, replay=True)
        if self.loaded:
            self.stats.message = f"loaded {self.loaded[2]}"
        self.set_interval(STATUS_REFRESH_S, self.show_status)
        self.set_interval(CHART_REFRESH_S, self.redraw_charts)
        self.tick()
        self._update_buttons()
        if not self.is_headless:
            try:
                self._loop_for_signals = __import__("asyncio").get_running_loop()
                self._loop_for_signals.add_signal_handler(signal.SIGHUP, self.action_hangup)
            except (NotImplementedError, RuntimeError, AttributeError):
                pass  # no SIGHUP on this platform

    # --- timer: the only place charts and status redraw ----------------------------------
    def tick(self) -> None:
        """Redraw charts (if their data changed) and the status now."""
        self.redraw_charts()
        self.show_status()

    def redraw_charts(self) -> None:
        """Timer: rebuild the charts whose data changed, never per step."""
        if self.loss_chart.is_attached:  # else the app is closing
            self.loss_chart.redraw_if_dirty()
            self.metric_chart.redraw_if_dirty()

    def show_status(self) -> None:
        if self.status.is_attached:
            self.status.show(self.stats)

    def on_resize(self, event: events.Resize) -> None:
        width, height = event.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        on_notice = isinstance(self.screen, TooSmallScreen)
        if small and not on_notice:
            self.push_screen(TooSmallScreen())
        elif small and on_notice:
            self.screen.show_size(width, height)
        elif not small and on_notice:
            self.pop_screen()

    # --- training --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.stats.state in ACTIVE_STATES

    def action_start(self) -> None:
        """Start training with the editor's config; refused while a field is invalid."""
        if self.running:
            self.notify("A run is already going (x stops it).", severity="warning")
            return
        editor = self.editor
        config = editor.validate_form()
        if config is None:
            names = ", ".join(editor.problems)
            self.notify(
                f"Cannot start: fix {names} first.", title="Invalid config", severity="error"
            )
            return
        for chart in (self.loss_chart, self.metric_chart):
            chart.reset()
        self.pager.clear_samples()
        self.stats = RunStats(state="starting", lr=config.learning_rate)
        self.terminal_event = None
        self.control = Control()
        self.train_done.clear()
        editor.set_running(True)
        self._update_buttons()
        self._train(config, self.resume, self.control)

    @work(thread=True, exclusive=True, exit_on_error=False, group="train")
    def _train(self, config: RunConfig, resume: str | None, control: Control) -> None:
        try:
            self.trainer = self.trainer_factory(config, resume)
            self.trainer.run(self._sink, control)
        except Exception as exc:  # the engine should not raise; if it does, show it
            self.post_message(
                EngineEvent(ev.RunFailed(error=f"{type(exc).__name__}: {exc}", step=0))
            )
        finally:
            self.train_done.set()

    def _sink(self, event: ev.Event) -> None:
        """Runs on the trainer thread: buffer steps, post everything else; never blocks."""
        if isinstance(event, ev.StepCompleted):
            if self._steps.push(event):
                self.post_message(StepsReady())
        else:
            self.post_message(EngineEvent(event))

    def on_steps_ready(self, message: StepsReady) -> None:
        if self.loss_chart.is_attached:
            self._drain_steps()

    def _drain_steps(self) -> None:
        steps = self._steps.drain()
        if not steps:
            return
        self.loss_chart.add_steps([(s.step, s.loss) for s in steps])
        last = steps[-1]
        stats = self.stats
        stats.step, stats.epoch, stats.lr = last.step, last.epoch, last.lr
        stats.total_steps = last.total_steps or stats.total_steps
        stats.tokens_per_s = last.tokens_per_s
        stats.elapsed_s, stats.elapsed_at = last.elapsed_s, time.monotonic()

    def on_engine_event(self, message: EngineEvent) -> None:
        if not self.loss_chart.is_attached:  # closing; on_unmount told the trainer to stop
            return
        self._drain_steps()  # keep order: steps posted before this event come first
        self.apply_event(message.event)

    def apply_event(self, event: ev.Event, replay: bool = False) -> None:
        """Update stats, charts and panes from one event (live, or replayed from a log)."""
        stats = self.stats
        if isinstance(event, ev.StepCompleted):
            self._steps.push(event)
            self._drain_steps()
        elif isinstance(event, ev.RunStarted):
            stats.run_id, stats.n_params, stats.device = event.run_id, event.n_params, event.device
            stats.total_steps, stats.start_step = event.total_steps, event.start_step
            stats.step = event.start_step
            stats.state = "running" if not replay else stats.state
            for note in event.notes:
                self.notify(note, severity="warning", timeout=8)
        elif isinstance(event, ev.EvalCompleted):
            self.loss_chart.add_eval(event.step, event.val_loss)
            self.metric_chart.add_eval(event.step, event.perplexity, event.bits_per_char)
            stats.best_val_loss = event.best_val_loss
        elif isinstance(event, ev.EpochCompleted):
            self.loss_chart.add_epoch(event.step)
            self.metric_chart.add_epoch(event.step)
            stats.epoch = event.epoch
        elif isinstance(event, ev.SampleGenerated):
            self.pager.add(event)
        elif isinstance(event, ev.CheckpointSaved):
            stats.last_checkpoint = f"{event.kind}.pt @{event.step}"
        elif isinstance(event, ev.ConfigChanged):
            self.loss_chart.add_change(event.step)
            if not replay:
                self.notify(f"{event.name}: {event.old} → {event.new} from step {event.step}")
        elif isinstance(event, ev.RunPaused) and not replay:
            stats.state = "paused"
            stats.elapsed_s, stats.elapsed_at = stats.live_elapsed(), None
        elif isinstance(event, ev.RunResumed) and not replay:
            stats.state, stats.elapsed_at = "running", time.monotonic()
        elif isinstance(event, ev.RunWarning) and not replay:
            self.notify(event.message, severity="warning", timeout=8)
        elif isinstance(event, ev.TERMINAL_EVENTS) and not replay:
            self._finish(event)
        self._update_buttons()

    def _finish(self, event: ev.Event) -> None:
        stats = self.stats
        stats.elapsed_s, stats.elapsed_at = (
            getattr(event, "elapsed_s", 0.0) or stats.live_elapsed(),
            None,
        )
        self.terminal_event = event
        if isinstance(event, ev.RunFailed):
            stats.state = "failed"
            # Stays until dismissed (click): the explanation is the user's next step.
            self.notify(event.error, title="Run failed", severity="error", timeout=24 * 3600)
        else:
            stats.state = "finished"
            self.notify(f"Run finished ({event.reason}) at step {event.step}.")
        self.editor.set_running(False)
        self.tick()
        if self.quitting:
            self.exit(0 if isinstance(event, ev.RunFinished) else 1)

    def _update_buttons(self) -> None:
        active = self.running
        self.buttons["btn-start"].disabled = active
        for name in ("pause", "stop", "save"):
            self.buttons[f"btn-{name}"].disabled = not active
        label = "Resume p" if self.stats.state == "paused" else "Pause p"
        if str(self.buttons["btn-pause"].label) != label:
            self.buttons["btn-pause"].label = label

    def action_pause(self) -> None:
        """Pause a running run, resume a paused one (applies after the current step)."""
        if self.control is None or self.stats.state not in {"running", "paused"}:
            self.notify("No run to pause: press s to start.", severity="warning")
        elif self.stats.state == "paused":
            self.control.resume()
        else:
            self.control.pause()

    def action_stop(self) -> None:
        """Stop the run after the current step; the trainer saves a checkpoint first."""
        if self.control is None or not self.running:
            self.notify("No run to stop.", severity="warning")
            return
        self.control.stop()
        self.stats.state = "stopping"
        self._update_buttons()

    def action_save(self) -> None:
        """Save latest.pt after the current step."""
        if self.control is None or not self.running:
            self.notify("No run to save.", severity="warning")
            return
        self.control.save()
        self.notify("Saving a checkpoint after the current step…")

    @on(ConfigEditor.LiveEdit)
    def _live_edit(self, message: ConfigEditor.LiveEdit) -> None:
        if self.control is not None and self.running:
            self.control.set(message.name, message.value)
            self.notify(f"{message.name} = {message.value} applies after the current step")

    # --- generation ------------------------------------------------------------------
    def model_source(self) -> tuple[Any, Any, str] | None:
        """Called from the generation worker: live weights if training, else the loaded run."""
        trainer = self.trainer
        if trainer is not None:
            snapshot = trainer.snapshot()
            if snapshot is not None:
                return snapshot[0], snapshot[1], f"live weights (step {self.stats.step})"
        return self.loaded

    def action_generate(self) -> None:
        self.tabs.active = "generate"
        self.generation.generate()

    def on_generation_ended(self, message: GenerationEnded) -> None:
        if message.error:
            self.notify(message.error, title="Generation", severity="error", timeout=10)

    def action_escape(self) -> None:
        """Stop the current generation, and leave the text box that has focus."""
        stopped = self.generation.stop()
        if isinstance(self.focused, Input | Select) and not stopped:
            self.set_focus(None)

    # Sampling keys bring the Generate tab forward, so the changed value is in view.
    def action_temperature(self, direction: int) -> None:
        self.tabs.active = "generate"
        self.generation.change_temperature(0.1 * direction)

    def action_top_k(self, direction: int) -> None:
        self.tabs.active = "generate"
        self.generation.change_top_k(direction)

    def action_top_p(self, direction: int) -> None:
        self.tabs.active = "generate"
        self.generation.change_top_p(0.05 * direction)

    # --- view ------------------------------------------------------------------------
    def action_page(self, direction: int) -> None:
        self.tabs.active = "samples"
        self.pager.page(direction)

    def action_log_scale(self) -> None:
        loss, metric = self.loss_chart, self.metric_chart
        loss.set_log_scale(not loss.log_scale)
        metric.set_log_scale(loss.log_scale)

    def action_bits(self) -> None:
        metric = self.metric_chart
        metric.set_bits(not metric.show_bits)

    def action_tab(self, name: str) -> None:
        self.tabs.active = name

    def action_edit(self) -> None:
        self.tabs.active = "config"
        self.editor.focus_first_field()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_rows(self.BINDINGS)))

    @on(Button.Pressed, "#controls Button")
    def _button(self, event: Button.Pressed) -> None:
        action = (event.button.id or "").removeprefix("btn-")
        getattr(self, f"action_{action}")()

    # --- leaving ---------------------------------------------------------------------
    def on_unmount(self) -> None:
        # However the app ends, never leave a trainer thread running (it saves on stop).
        if self.control is not None and self.running:
            self.control.stop()

    async def action_quit(self) -> None:
        """Quit; a run in progress is stopped (with its checkpoint) first. Twice: at once."""
        if self.running and not self.quitting and self.control is not None:
            self.quitting = True
            self.control.stop()
            self.stats.state = "stopping"
            self.notify("Stopping: saving a checkpoint, then quitting (q again: quit now).")
            return
        self.generation.stop()
        self.exit(0)

    def action_hangup(self) -> None:
        """SIGHUP (the terminal went away): stop with a checkpoint, then exit."""
        self.quitting = True
        if self.running and self.control is not None:
            self.control.stop()
            self.stats.state = "stopping"
        else:
            self.exit(0)


def read_history(run: str, runs_dir: str | Path) -> list[ev.Event]:
    """Events of a run folder's events.jsonl (empty when there is none)."""
    from engine.runlog import effective_history, read_events

    folder = Path(run) if Path(run).is_dir() else Path(runs_dir) / run
    if Path(run).is_file():
        folder = Path(run).parent
    log = folder / "events.jsonl"
    return effective_history(read_events(log)) if log.is_file() else []


def make_app(
    config: str | None = None,
    run: str | None = None,
    trainer_factory: TrainerFactory | None = None,
    runs_dir: str | Path = "checkpoints",
) -> Dashboard:
    """The dashboard, for the CLI and for tests.

    Raises:
        ConfigError: the config file is missing or invalid.
        CheckpointError: ``run`` cannot be loaded.
    """
    loaded = None
    history: list[ev.Event] = []
    cfg = load_config(config) if config else None
    if run:
        from engine.checkpoint import load_for_inference

        model, tokenizer, run_config = load_for_inference(run, runs_dir=runs_dir)
        loaded = (model, tokenizer, f"checkpoint {run}")
        cfg = cfg or run_config
        history = read_history(run, runs_dir)
    return Dashboard(
        cfg or RunConfig(),
        trainer_factory or default_trainer_factory(runs_dir),
        config_path=config or "",
        run=run,
        loaded=loaded,
        history=history,
    )


def run_dashboard(config: str | None, run: str | None) -> int:
    """Entry point of ``llmv0-tui``: 0 on a clean exit, 2 when the inputs cannot be opened."""
    from engine.checkpoint import CheckpointError

    try:
        app = make_app(config, run)
    except (ConfigError, CheckpointError) as exc:
        print(f"llmv0-tui: {exc}", file=sys.stderr)
        return 2
    code = app.run()
    if not app.train_done.is_set() and app.control is not None:
        # The UI is gone (a hang-up closes the terminal) but the run is not: a second SIGHUP
        # must not kill the process before the trainer has saved its checkpoint and ended.
        with contextlib.suppress(ValueError, AttributeError):
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        app.control.stop()
        app.train_done.wait(timeout=STOP_TIMEOUT_S)
    return code or 0
