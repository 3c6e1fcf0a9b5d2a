"""RunScreen: the dashboard's layout, its timers, and the run it shows (no keys: see main.py).

Status on top, charts left, config/generation/samples tabs right, one row of keys below (the
footer, generated from the bindings; a row of buttons repeated it and is gone). The run's
state lives in a :class:`~tui.dashboard.session.RunSession` handed down by the App; engine
events reach the widgets through a :class:`~tui.dashboard.run_view.RunView`. Training, run
folders and checkpoints are read in thread workers that only post messages. Timers redraw the
status twice a second and changed charts just under once a second (never per step).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import TabbedContent, TabPane

from engine import events as ev
from engine.control import Control
from engine.run.state import shown_state
from tui.dashboard.messages import (
    EngineEvent,
    GenerationEnded,
    OverlayLoaded,
    RunOpened,
    StepsReady,
)
from tui.dashboard.run_view import RunView
from tui.dashboard.session import RunSession
from tui.dashboard.trainer_factory import remote_factory
from tui.dashboard.widgets.charts.loss_chart import LossChart
from tui.dashboard.widgets.charts.metric_chart import MetricChart
from tui.dashboard.widgets.charts.metric_grid import MetricGrid
from tui.dashboard.widgets.config_editor import ConfigEditor
from tui.dashboard.widgets.generation_pane import GenerationPane
from tui.dashboard.widgets.key_footer import KeyFooter
from tui.dashboard.widgets.notice_line import NoticeLine
from tui.dashboard.widgets.samples_pager import SamplesPager
from tui.dashboard.widgets.status_bar import RunStatus

if TYPE_CHECKING:
    from engine.config.schema import RunConfig  # pydantic: loaded after the first frame
    from tui.dashboard.run_rows import BrowserChoice

STATUS_REFRESH_S = 0.5  # a status redraw is cheap; elapsed time ticks visibly
# A chart rebuild costs ~20 ms of Python (plotext) that competes with the trainer for the GIL;
# just under once a second keeps training within a few percent of headless (bench/tui_overhead.py).
CHART_REFRESH_S = 0.9


def _preload_engine() -> None:
    import textual_plotext.plot  # noqa: F401  (the charts' first points; empty ones need none)

    import engine.generate.sampling
    import engine.train.trainer  # noqa: F401


class RunScreen(Screen[None]):
    """The dashboard's one screen under every overlay; :class:`MainScreen` adds the keys."""

    def __init__(self, session: RunSession, history: list[ev.Event] | None = None) -> None:
        super().__init__()
        self.session = session
        self.history = history or []
        # Set once on_mount has cached the widgets and replayed the history: from then on
        # every key's handover finds its widget.
        self.set_up = asyncio.Event()

    def compose(self) -> ComposeResult:
        session = self.session
        yield RunStatus(id="status")
        with Horizontal(id="body"):
            yield MetricGrid(id="charts")
            with TabbedContent(id="side", initial="generate" if session.loaded else "config"):
                with TabPane("Config [1]", id="config"):
                    yield ConfigEditor(session.initial_config, session.config_path, id="editor")
                with TabPane("Generate [2]", id="generate"):
                    yield GenerationPane(session.model_source, id="generation")
                with TabPane("Samples [3]", id="samples"):
                    yield SamplesPager(id="pager")
        yield NoticeLine(id="notices")
        yield KeyFooter(show_command_palette=False)  # ctrl+p is in the help; the row is full

    def notify(self, message: str, *, markup: bool = False, **kwargs: Any) -> None:
        """The app's notify: plain text (see Dashboard.notify)."""
        self.app.notify(message, markup=markup, **kwargs)

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
        self.run_view = RunView(
            self.session, self.chart_grid, self.pager, self.notices, self.notify
        )
        for event in self.history:
            self.apply_event(event, replay=True)
        if self.session.loaded:
            self.session.stats.message = f"loaded {self.session.loaded[2]}"
        self.set_interval(STATUS_REFRESH_S, self.show_status)
        self.set_interval(CHART_REFRESH_S, self.redraw_charts)
        self.tick()
        self.update_buttons()
        if self.session.attached is not None:
            self.start()  # follow the run: its whole history, then live events
        # The first frame is drawn without torch (1.3 s to import); load it now, off the UI
        # thread, so the first training or generation does not wait for it.
        self.call_after_refresh(self._preload_engine)
        self.set_up.set()

    def _preload_engine(self) -> None:
        # A daemon thread, not a thread worker: workers run in the event loop's executor, which
        # the App's exit waits for, and torch's import takes seconds on a loaded machine (q on
        # an attached run, with nothing to save, waited for it).
        threading.Thread(target=_preload_engine, name="preload-engine", daemon=True).start()

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
            self.status.show(self.session.stats)

    # --- engine events ---------------------------------------------------------------
    def on_steps_ready(self, message: StepsReady) -> None:
        if self.loss_chart.is_attached:
            self.run_view.drain_steps()

    def on_engine_event(self, message: EngineEvent) -> None:
        if not self.loss_chart.is_attached:  # closing; on_unmount told the trainer to stop
            return
        self.run_view.drain_steps()  # keep order: steps posted before this event come first
        self.apply_event(message.event)

    def apply_event(self, event: ev.Event, replay: bool = False) -> None:
        """One event into stats, charts and panes; a live terminal event ends the run here."""
        if self.run_view.apply(event, replay):
            self.editor.set_running(False)
            self.tick()
            if self.session.quitting:
                self.app.exit(0 if isinstance(event, ev.RunFinished) else 1)
        self.update_buttons()

    # --- training --------------------------------------------------------------------
    def start(self) -> None:
        """Start training with the editor's config; refused while a field is invalid."""
        session = self.session
        if session.running:
            self.notify("A run is already going (x stops it).", severity="warning")
            return
        config = self.editor.validate_form()
        if config is None:
            names = ", ".join(self.editor.problems)
            self.notify(
                f"Cannot start: fix {names} first.", title="Invalid config", severity="error"
            )
            return
        if session.opened and session.resume is None and session.explain_new_run:
            session.explain_new_run = False
            self.announce_opened(Path(session.opened).name)
            return
        if session.opened and session.resume is None:
            name = Path(session.opened).name
            self.notify(f"Training a new run with {name}'s config; {name} is kept as it was.")
        self.run_view.clear()
        control = session.begin(config)
        self.editor.set_running(True)
        self.update_buttons()
        self._train(config, session.resume, control)

    def announce_opened(self, name: str) -> None:
        """Say what s will do with a run opened from its folder, before it does it."""
        self.notify(
            f"s trains a NEW run with this run's config; {name} itself is never "
            "overwritten. Press s again to start it, or, to continue this run instead, "
            "r (runs), then r (resume).",
            title=f"Opened {name}",
            timeout=12,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="train")
    def _train(self, config: RunConfig, resume: str | None, control: Control) -> None:
        self.session.train(config, resume, control, self.run_view.sink(self.post_message))

    def update_buttons(self) -> None:
        """The key row says what p does now: Resume while the run is paused. (The name is
        from the buttons it once updated; the key row replaced them.)"""
        label = "Resume" if self.session.stats.state == "paused" else "Pause"
        keys = self._bindings.key_to_bindings
        pause = keys.get("p", [])
        if any(b.action == "pause" and b.description != label for b in pause):
            # A new list: the screen's map shares its lists with the class's bindings.
            keys["p"] = [replace(b, description=label) if b.action == "pause" else b for b in pause]
            self.refresh_bindings()

    @on(ConfigEditor.LiveEdit)
    def _live_edit(self, message: ConfigEditor.LiveEdit) -> None:
        if self.session.set_live(message.name, message.value):
            self.notify(f"{message.name} = {message.value} applies after the current step")

    def on_generation_ended(self, message: GenerationEnded) -> None:
        if message.error:
            self.notify(message.error, title="Generation", severity="error", timeout=10)

    # --- the run browser's choices (workers read; messages come back here) -------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="open-run")
    def _read_run(self, folder: Path) -> None:
        from tui.dashboard.run_opener import read_run

        self.post_message(read_run(folder, self.session.runs_dir))

    @work(thread=True, exclusive=True, exit_on_error=False, group="overlay")
    def _read_overlay(self, folders: list[Path]) -> None:
        from tui.dashboard.run_opener import read_overlay

        self.post_message(read_overlay(folders))

    def carry_out(self, choice: BrowserChoice | None) -> None:
        """The browser closed with ``choice`` (None: closed without one)."""
        if choice is None:
            return
        folders = [row.summary.path for row in choice.runs]
        if choice.action == "clear":
            self.clear_overlay()
        elif choice.action == "overlay":
            self._read_overlay(folders)
        elif choice.action == "open":
            self.open_run(folders[0])
        elif choice.action == "attach":
            self.attach_run(folders[0])
        elif choice.action == "resume":
            self.resume_run(folders[0])

    def _refused(self, what: str) -> bool:
        """True (and says why) while a run trained here is going; an attached run is only
        followed, so it is detached instead (its training goes on)."""
        was_running = self.session.running
        refusal = self.session.refusal(what)
        if refusal:
            self.notify(refusal, severity="warning")
            return True
        if was_running:
            self.editor.set_running(False)
        return False

    def open_run(self, folder: Path) -> None:
        """Show a run's charts and samples and load its checkpoint (in a worker)."""
        if self._refused("open another run"):
            return
        self.notify(f"Opening {folder.name}…", timeout=3)
        self._read_run(folder)

    def on_run_opened(self, message: RunOpened) -> None:
        session = self.session
        if session.running and session.attached is None:  # a run started while the worker read
            return
        self.run_view.clear()
        session.show_opened(message.folder, message.loaded)
        for event in message.history:
            self.apply_event(event, replay=True)
        if message.config is not None:
            self.editor.set_config(message.config)
        # Shown, not acted on: "running" would make this dashboard think it trains the run
        # (one training in another process is followed with the browser's a).
        session.stats.state = shown_state(message.state)
        self.update_buttons()
        if message.loaded is not None:
            self.tabs.active = "generate"
        if message.note:
            self.notify(message.note, title=message.folder.name, severity="warning", timeout=8)
        self.tick()

    def attach_run(self, folder: Path) -> None:
        """Follow (and steer) a run another process trains: ``--attach`` from the browser."""
        from tui.dashboard.run_opener import saved_config

        if self._refused("attach to another run"):
            return
        self.session.follow(folder, remote_factory(folder))
        config = saved_config(folder)
        if config is not None:
            self.editor.set_config(config)
        self.start()

    def resume_run(self, folder: Path) -> None:
        """Continue an interrupted or stopped run from its latest.pt, with its saved config."""
        from tui.dashboard.run_opener import saved_config

        if self._refused("resume another run"):
            return
        self.session.resume_from(folder)  # stops following an attached run first
        config = saved_config(folder)
        if config is not None:  # a resume must keep the run's model shape and data
            self.editor.set_config(config)
        self.start()

    def on_overlay_loaded(self, message: OverlayLoaded) -> None:
        drawn = [s for s in message.series if s.steps]
        self.loss_chart.set_overlay(drawn)  # drawn on the next chart tick, not now
        if drawn:
            names = ", ".join(s.label for s in drawn)
            self.notify(f"Comparing on the loss chart: {names} (o clears).")
        else:
            self.notify("Those runs have no loss points to compare yet.", severity="warning")

    def clear_overlay(self) -> None:
        """Remove the compared runs from the loss chart."""
        if self.loss_chart.clear_overlay():
            self.notify("Overlay cleared.")
        else:
            self.notify("No overlay: r lists the runs; mark some with space, then o.")
