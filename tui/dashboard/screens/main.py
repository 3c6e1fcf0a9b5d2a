"""MainScreen: the dashboard's global keys, each a short handover to the widget that acts.

Keys are bound here, from tui/dashboard/keys.py, not on the widgets: nothing has focus at start
(``AUTO_FOCUS = None``) and a binding on an unfocused widget never fires, yet letters act at
once. The layout, timers and the run shown are :class:`RunScreen`'s.
"""

from __future__ import annotations

from textual import on
from textual.widgets import Input, Select

from engine import events as ev
from tui.dashboard.keys import bindings
from tui.dashboard.messages import EngineEvent
from tui.dashboard.screens.run_screen import RunScreen
from tui.dashboard.widgets.charts.metric_grid import METRICS
from tui.dashboard.widgets.generation_pane import GenerationPane


class MainScreen(RunScreen):
    """The dashboard's keys (listed in tui/dashboard/KEYS.md)."""

    BINDINGS = bindings("screen")

    # --- training ---------------------------------------------------------------------
    def action_start(self) -> None:
        self.start()

    # Each key says at once that it was taken; the trainer acts between two steps (or two
    # evaluation batches), and the status shows the state it reports then.
    def action_pause(self) -> None:
        """Pause a running run, resume a paused one (applies after the current step)."""
        refused = self.session.pause_or_resume()
        if refused:
            self.notify(refused, severity="warning")
            return
        self.show_status()  # "pausing…" now (a toast took 80 ms and more to show)

    def action_stop(self) -> None:
        """Stop the run after the current step; the trainer saves a checkpoint first."""
        if not self.session.stop():
            self.notify("No run to stop.", severity="warning")
            return
        self.notify("Stopping: saving a checkpoint after the current step…", timeout=4)
        self.show_status()  # "stopping" now, not at the next status tick
        self.update_buttons()

    def action_save(self) -> None:
        """Save latest.pt after the current step."""
        if not self.session.save():
            self.notify("No run to save.", severity="warning")
            return
        self.show_status()  # "saving…" until the trainer says it saved

    def action_detach(self) -> None:
        """An attached run: stop following it (its training goes on), or follow it again."""
        session = self.session
        if session.attached is None:
            self.notify("d detaches from a run attached with --attach RUN or the browser (r, a).")
        elif session.running:
            session.detach()
            session.stats.state = "detached"
            self.editor.set_running(False)
            self.update_buttons()
            self.notify("Detached: the run trains on. Press d to follow it again.")
        else:
            self.action_start()

    def action_runs(self) -> None:
        """The run browser over every run of the runs folder."""
        # Imported here: its DataTable costs ~70 ms that the first frame need not wait for.
        from tui.dashboard.screens.run_browser import RunBrowser

        if not isinstance(self.app.screen, RunBrowser):
            self.app.push_screen(RunBrowser(self.session.runs_dir), self.carry_out)

    def action_clear_overlay(self) -> None:
        self.clear_overlay()

    @on(EngineEvent)
    def _confirmed(self, message: EngineEvent) -> None:
        """The trainer did what a key asked: a live edit's field leaves "applying…" for the
        value; the status leaves "pausing…" or "saving…" for the state."""
        event = message.event
        if isinstance(event, ev.ConfigChanged) and self.editor.is_attached:
            self.editor.live_applied(event.name, event.new, event.step)
        if self.session.stats.pending:
            self.session.confirmed(event)
            # After RunScreen's own handler (this one runs first) has applied the new state.
            self.call_later(self.show_status)

    # --- generation: each key brings the Generate tab forward, then hands over ---------
    def _generation(self) -> GenerationPane:
        self.tabs.active = "generate"
        return self.generation

    def action_generate(self) -> None:
        self._generation().generate()

    def action_temperature(self, direction: int) -> None:
        self._generation().change_temperature(0.1 * direction)

    def action_top_k(self, direction: int) -> None:
        self._generation().change_top_k(direction)

    def action_top_p(self, direction: int) -> None:
        self._generation().change_top_p(0.05 * direction)

    def action_strategy(self) -> None:
        self._generation().cycle_strategy()

    def action_min_p(self) -> None:
        self._generation().cycle_min_p()

    def action_repetition(self) -> None:
        self._generation().cycle_repetition()

    def action_candidates(self) -> None:
        self._generation().show_candidates()

    def action_length(self, direction: int) -> None:
        self._generation().change_length(direction)

    def action_pin_seed(self) -> None:
        self._generation().toggle_seed_pin()

    def action_escape(self) -> None:
        """Stop the current generation, and leave the text box that has focus.

        Both at once: a box that kept the focus while a generation wound down took the
        next letters typed as text instead of keys.
        """
        self.generation.stop()
        if isinstance(self.focused, Input | Select):
            self.set_focus(None)

    # --- charts, tabs, pages, editor: handovers ----------------------------------------
    def action_pick_metrics(self) -> None:
        """Open the checklist of metrics; Enter shows the chosen ones."""
        from tui.dashboard.screens.metric_picker import MetricPicker

        def chosen(keys: tuple[str, ...] | None) -> None:
            if keys is not None:
                self.chart_grid.show_metrics(keys)

        if not isinstance(self.app.screen, MetricPicker):
            self.app.push_screen(MetricPicker(METRICS, self.chart_grid.shown), chosen)

    def action_toggle_metric(self, key: str) -> None:
        """Show or hide one metric's chart (the command palette offers each)."""
        self.chart_grid.toggle_metric(key)

    def action_smoothing(self) -> None:
        self.chart_grid.cycle_smoothing()

    def action_x_axis(self) -> None:
        self.chart_grid.cycle_x_axis()

    def action_zoom(self) -> None:
        self.chart_grid.cycle_zoom()

    def action_cursor(self, direction: int) -> None:
        self.chart_grid.move_cursor(direction)

    def action_log_scale(self) -> None:
        self.chart_grid.set_log_scale(not self.loss_chart.log_scale)

    def action_bits(self) -> None:
        self.metric_chart.set_bits(not self.metric_chart.show_bits)

    def action_tab(self, name: str) -> None:
        self.tabs.active = name

    def action_page(self, direction: int) -> None:
        self.tabs.active = "samples"
        self.pager.page(direction)

    def action_edit(self) -> None:
        self.tabs.active = "config"
        self.editor.focus_first_field()

    def action_find_field(self) -> None:
        """Bring the Config tab forward with the cursor in its filter box."""
        self.tabs.active = "config"
        self.editor.focus_filter()

    def action_preset(self, name: str) -> None:
        """Load preset ``name`` into the editor (the command palette offers each)."""
        self.tabs.active = "config"
        self.editor.load_preset(name)

    def action_inspect(self) -> None:
        """The Inspect screen over the live weights, else the opened run."""
        from tui.dashboard.screens.inspect import open_inspect

        screen = open_inspect(
            self.session,
            color=not self.app.no_color,
            prompt=lambda: self.generation.prompt_input.value,
        )
        self.app.push_screen(screen)

    def action_sweeps(self) -> None:
        """The runs folder's sweeps and their trials (the command palette's Sweeps…)."""
        from tui.dashboard.screens.sweeps import SweepsScreen  # its DataTable slows start-up

        self.app.push_screen(SweepsScreen(self.session.runs_dir))
