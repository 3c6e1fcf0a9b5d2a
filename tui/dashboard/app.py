"""The llmv0 dashboard: edit a config, train, watch the curves, stream text; one terminal.

:func:`tui.dashboard.launch.make_app` builds it for the CLI and for tests (tests pass a scripted
trainer factory); :func:`tui.dashboard.launch.run_dashboard` is what ``llmv0-tui``
calls. Training runs
in a thread worker and reaches the UI only through ``post_message``: steps go through a
coalescing buffer, other events one message each. Timers redraw the status twice a second
and changed charts just under once a second.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Select, TabbedContent, TabPane

from engine import events as ev
from engine.control import Control
from engine.run.state import ACTIVE
from engine.run.summary import default_runs_dir
from tui.dashboard import textual_fixes  # noqa: F401  (Textual bugs worked around; see the module)
from tui.dashboard.commands import DashboardCommands
from tui.dashboard.keys import bindings
from tui.dashboard.leaving import LeavingMixin
from tui.dashboard.messages import DrainBuffer, GenerationEnded
from tui.dashboard.model_source import GenerationModel
from tui.dashboard.run_opener import RunBrowserMixin
from tui.dashboard.run_view import RunEventsMixin
from tui.dashboard.sampling_keys import SamplingKeysMixin
from tui.dashboard.screens.help import HelpScreen, key_rows
from tui.dashboard.screens.too_small import MIN_HEIGHT, MIN_WIDTH, TooSmallScreen
from tui.dashboard.trainer_factory import (
    TrainerFactory,
    TrainerLike,
    default_trainer_factory,
)
from tui.dashboard.view_keys import ViewKeysMixin
from tui.dashboard.widgets.charts.loss_chart import LossChart
from tui.dashboard.widgets.charts.metric_chart import MetricChart
from tui.dashboard.widgets.charts.metric_grid import MetricGrid
from tui.dashboard.widgets.config_editor import ConfigEditor
from tui.dashboard.widgets.generation_pane import GenerationPane
from tui.dashboard.widgets.key_footer import KeyFooter
from tui.dashboard.widgets.notice_line import NoticeLine
from tui.dashboard.widgets.samples_pager import SamplesPager
from tui.dashboard.widgets.status_bar import RunStats, RunStatus

if TYPE_CHECKING:
    from engine.config.schema import RunConfig  # pydantic: loaded after the first frame

STATUS_REFRESH_S = 0.5  # a status redraw is cheap; elapsed time ticks visibly
# A chart rebuild costs ~20 ms of Python (plotext) that competes with the trainer for the GIL:
# redrawing just under once a second keeps the curves live and the dashboard's training
# throughput within a few percent of headless (bench/tui_overhead.py).
CHART_REFRESH_S = 0.9
STOP_TIMEOUT_S = 300  # a stop waits for the current step and a checkpoint save
SHORT_HEIGHT = 30  # below this the control buttons hide: the footer has the same keys


class Dashboard(
    RunEventsMixin, RunBrowserMixin, SamplingKeysMixin, ViewKeysMixin, LeavingMixin, App[int]
):
    """Status on top, charts left, config/generation/samples tabs right, controls below.

    ``runs_dir`` is the runs folder the run browser lists (and real trainers write).
    """

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "llmv0"
    AUTO_FOCUS = None  # letter keys act at once; Tab or a click enters a text box
    # ctrl+p finds runs, presets and toggles by name (tui/dashboard/commands.py); not in the footer.
    COMMANDS = App.COMMANDS | {DashboardCommands}
    BINDINGS = bindings()

    def __init__(
        self,
        config: RunConfig | None,
        trainer_factory: TrainerFactory,
        *,
        config_path: str = "",
        run: str | None = None,
        loaded: GenerationModel | None = None,
        history: list[ev.Event] | None = None,
        attached: Path | None = None,
        runs_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.attached = attached  # a run folder another process trains (--attach)
        self.initial_config = config
        self.trainer_factory = trainer_factory
        self.runs_dir = runs_dir if runs_dir is not None else default_runs_dir()
        # What trains here once the user stops following an attached run (browser: resume).
        self.local_factory = (
            trainer_factory if attached is None else default_trainer_factory(self.runs_dir)
        )
        self.config_path = config_path
        # Set only by an explicit resume (the run browser's r). A run opened with --run or
        # the browser's Enter is shown, never written: s trains a new run with its config.
        self.resume: str | None = None
        self.opened = run  # the run (id or path) shown from its folder, until one starts here
        self.explain_new_run = run is not None  # the first s after opening says what s does
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
            yield MetricGrid(id="charts")
            with TabbedContent(id="side", initial="generate" if self.loaded else "config"):
                with TabPane("Config [1]", id="config"):
                    yield ConfigEditor(self.initial_config, self.config_path, id="editor")
                with TabPane("Generate [2]", id="generate"):
                    yield GenerationPane(self.model_source, id="generation")
                with TabPane("Samples [3]", id="samples"):
                    yield SamplesPager(id="pager")
        yield NoticeLine(id="notices")
        with Horizontal(id="controls"):
            yield Button("Start s", id="btn-start", variant="success")
            yield Button("Pause p", id="btn-pause")
            yield Button("Stop x", id="btn-stop", variant="error")
            yield Button("Save w", id="btn-save")
            yield Button("Generate g", id="btn-generate", variant="primary")
            yield Button("Help ?", id="btn-help")
        yield KeyFooter(show_command_palette=False)  # ctrl+p is in the help; the row is full

    def notify(self, message: str, *, markup: bool = False, **kwargs: Any) -> None:
        """Every notification is plain text unless a caller asks for markup: they quote paths,
        values and errors the user typed or a run sent, and ``[/]`` in those is text."""
        super().notify(message, markup=markup, **kwargs)

    def on_mount(self) -> None:
        # Cached once: a query walks hundreds of editor widgets, too slow per event.
        self.chart_grid = self.query_one(MetricGrid)
        self.notices = self.query_one(NoticeLine)
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
        if self.attached is not None:
            self.action_start()  # follow the run: its whole history, then live events
        # The first frame is drawn without torch (1.3 s to import); load it now, off the UI
        # thread, so the first training or generation does not wait for it.
        self.call_after_refresh(self._preload_engine)

    @work(thread=True, exclusive=True, exit_on_error=False, group="preload")
    def _preload_engine(self) -> None:
        import textual_plotext.plot  # noqa: F401  (the charts' first points; empty ones need none)

        import engine.generate.sampling
        import engine.train.trainer  # noqa: F401

    # --- timer: the only place charts and status redraw ----------------------------------
    def tick(self) -> None:
        """Redraw charts (if their data changed) and the status now."""
        self.redraw_charts()
        self.show_status()

    def redraw_charts(self) -> None:
        """Timer: rebuild the charts whose data changed, never per step."""
        if self.loss_chart.is_attached:  # else the app is closing
            self.chart_grid.redraw_if_dirty()

    def show_status(self) -> None:
        if self.status.is_attached:
            self.status.show(self.stats)

    def on_resize(self, event: events.Resize) -> None:
        width, height = event.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        on_notice = isinstance(self.screen, TooSmallScreen)
        self.set_class(height < SHORT_HEIGHT, "-short")  # app.tcss: charts get the rows
        if small and not on_notice:
            self.push_screen(TooSmallScreen())
        elif small and on_notice:
            self.screen.show_size(width, height)
        elif not small and on_notice:
            self.pop_screen()

    # --- training --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.stats.state in ACTIVE

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
        if self.opened and self.resume is None and self.explain_new_run:
            self.explain_new_run = False
            self.announce_opened(Path(self.opened).name)
            return
        if self.opened and self.resume is None:
            name = escape(Path(self.opened).name)
            self.notify(f"Training a new run with {name}'s config; {name} is kept as it was.")
        self.opened = None
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

    def announce_opened(self, name: str) -> None:
        """Say what s will do with a run opened from its folder, before it does it."""
        self.notify(
            f"s trains a NEW run with this run's config; {escape(name)} itself is never "
            "overwritten. Press s again to start it, or, to continue this run instead, "
            "r (runs), then r (resume).",
            title=f"Opened {escape(name)}",
            timeout=12,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="train")
    def _train(self, config: RunConfig, resume: str | None, control: Control) -> None:
        # A run the dashboard has moved on from (an attached run detached, then another
        # followed or started) may still be winding down: its events and its end are dropped.
        def current(event: ev.Event) -> None:
            if control is self.control:
                self._sink(event)

        try:
            trainer = self.trainer_factory(config, resume)
            if control is self.control:
                self.trainer = trainer
            trainer.run(current, control)
        except Exception as exc:  # the engine should not raise; if it does, show it
            current(ev.RunFailed(error=f"{type(exc).__name__}: {exc}", step=0))
        finally:
            if control is self.control:
                self.train_done.set()

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
    def model_source(self) -> GenerationModel | None:
        """Called from the generation worker: live weights if training, else the loaded run."""
        trainer = self.trainer
        if trainer is not None:
            snapshot = trainer.snapshot()
            if snapshot is not None:
                model, tokenizer = snapshot
                return GenerationModel(model, tokenizer, f"live weights (step {self.stats.step})")
        return self.loaded

    def action_generate(self) -> None:
        self.tabs.active = "generate"
        self.generation.generate()

    def on_generation_ended(self, message: GenerationEnded) -> None:
        if message.error:
            self.notify(message.error, title="Generation", severity="error", timeout=10)

    def action_escape(self) -> None:
        """Stop the current generation, and leave the text box that has focus.

        Both at once: when Escape only stopped a generation, a text box kept the focus while
        one was winding down (the key fuzz, after three Escapes, typed its ``?`` into the
        config filter instead of opening the help).
        """
        self.generation.stop()
        if isinstance(self.focused, Input | Select):
            self.set_focus(None)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_rows(self.BINDINGS)))

    @on(Button.Pressed, "#controls Button")
    def _button(self, event: Button.Pressed) -> None:
        action = (event.button.id or "").removeprefix("btn-")
        getattr(self, f"action_{action}")()
