"""Engine events to dashboard state: the trainer-thread sink and the UI-side handlers.

A mixin of :class:`tui.dashboard.app.Dashboard`, kept apart so the app module stays readable.
The sink
runs on the trainer's thread and only buffers or posts; everything else runs on the UI thread.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from engine import events as ev
from engine.run.state import end_state, next_state
from tui.dashboard.messages import EngineEvent, StepsReady

if TYPE_CHECKING:
    from tui.dashboard.app import Dashboard

    _Base = Dashboard
else:
    _Base = object


class RunEventsMixin(_Base):
    """Turns StepCompleted batches and single events into stats, chart points and samples."""

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
        # psutil sees this process: the trainer only when it is not another (attached) one.
        self.chart_grid.sample_process = self.attached is None
        self.chart_grid.add_steps(steps)
        last = steps[-1]
        stats = self.stats
        stats.step, stats.epoch, stats.lr = last.step, last.epoch, last.lr
        stats.total_steps = last.total_steps or stats.total_steps
        stats.tokens_per_s = last.tokens_per_s or None  # 0: not measured yet
        stats.elapsed_s, stats.elapsed_at = last.elapsed_s, time.monotonic()
        stats.reported_eta_s, stats.eta_at = last.eta_s, time.monotonic()
        stats.compiling = False

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
            self.chart_grid.start_run(event)
            stats.total_steps, stats.start_step = event.total_steps, event.start_step
            # Steps the trainer posted right after this event may already have been drained
            # (a replayed attach delivers them all at once): never move the counter back.
            stats.step = max(stats.step, event.start_step)
            stats.state = next_state(stats.state, event) if not replay else stats.state
            self.notices.start(event.notes)  # a line of their own: no toasts over the charts
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
        elif isinstance(event, ev.RunNotice):
            stats.compiling = event.kind == "compiling" and not replay
            self.notices.add(event.message, "information")  # the notice line, not a toast
        elif isinstance(event, ev.RunPaused) and not replay:
            stats.reported_eta_s, stats.eta_at = stats.eta_s(), None  # frozen while paused
            stats.state = next_state(stats.state, event)
            stats.elapsed_s, stats.elapsed_at = stats.live_elapsed(), None
        elif isinstance(event, ev.RunResumed) and not replay:
            stats.state, stats.elapsed_at = next_state(stats.state, event), time.monotonic()
            stats.eta_at = time.monotonic()
        elif isinstance(event, ev.RunWarning) and not replay:
            self.notices.add(event.message)
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
        stats.state = end_state(event)  # "stopped" after x, as the run browser says
        if isinstance(event, ev.RunFailed):
            # Stays until dismissed (click): the explanation is the user's next step.
            self.notify(event.error, title="Run failed", severity="error", timeout=24 * 3600)
        else:
            self.notify(f"Run finished ({event.reason}) at step {event.step}.")
        self.editor.set_running(False)
        self.tick()
        if self.quitting:
            self.exit(0 if isinstance(event, ev.RunFinished) else 1)
