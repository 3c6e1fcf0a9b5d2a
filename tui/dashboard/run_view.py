"""RunView: engine events into the session's stats and the widgets that show a run.

The trainer-thread sink only buffers steps or posts a message; everything else runs on the UI
thread, called by the main screen. Steps coalesce in a :class:`DrainBuffer` (one message per
drain, however fast the trainer goes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.message import Message

from engine import events as ev
from engine.run.state import end_state, next_state
from tui.dashboard.messages import DrainBuffer, EngineEvent, StepsReady
from tui.dashboard.session import RunSession
from tui.dashboard.widgets.charts.metric_grid import MetricGrid
from tui.dashboard.widgets.notice_line import NoticeLine
from tui.dashboard.widgets.samples_pager import SamplesPager

Notify = Callable[..., Any]  # the app's notify: (message, *, title, severity, timeout)


class RunView:
    """Turns StepCompleted batches and single events into stats, chart points and samples."""

    def __init__(
        self,
        session: RunSession,
        charts: MetricGrid,
        pager: SamplesPager,
        notices: NoticeLine,
        notify: Notify,
    ) -> None:
        self.session = session
        self.charts = charts
        self.loss_chart = charts.loss_chart
        self.metric_chart = charts.metric_chart
        self.pager = pager
        self.notices = notices
        self.notify = notify
        self.steps: DrainBuffer[ev.StepCompleted] = DrainBuffer()

    def sink(self, post: Callable[[Message], object]) -> ev.Sink:
        """The trainer-thread sink: buffer steps, ``post`` everything else; never blocks."""

        def sink(event: ev.Event) -> None:
            if isinstance(event, ev.StepCompleted):
                if self.steps.push(event):
                    post(StepsReady())
            else:
                post(EngineEvent(event))

        return sink

    def clear(self) -> None:
        """Empty charts and samples, before another run is shown."""
        for chart in (self.loss_chart, self.metric_chart):
            chart.reset()
        self.pager.clear_samples()

    def drain_steps(self) -> None:
        steps = self.steps.drain()
        if not steps:
            return
        # psutil sees this process: the trainer only when it is not another (attached) one.
        self.charts.sample_process = self.session.attached is None
        self.charts.add_steps(steps)
        last = steps[-1]
        stats = self.session.stats
        stats.step, stats.epoch, stats.lr = last.step, last.epoch, last.lr
        stats.total_steps = last.total_steps or stats.total_steps
        stats.tokens_per_s = last.tokens_per_s or None  # 0: not measured yet
        stats.elapsed_s, stats.elapsed_at = last.elapsed_s, time.monotonic()
        stats.reported_eta_s, stats.eta_at = last.eta_s, time.monotonic()
        stats.compiling = False

    def apply(self, event: ev.Event, replay: bool = False) -> bool:
        """Update stats, charts and panes from one event (live, or replayed from a log).

        Returns True when a live terminal event ended the run (see :meth:`finish`).
        """
        stats = self.session.stats
        if isinstance(event, ev.StepCompleted):
            self.steps.push(event)
            self.drain_steps()
        elif isinstance(event, ev.RunStarted):
            stats.run_id, stats.n_params, stats.device = event.run_id, event.n_params, event.device
            self.charts.start_run(event)
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
            self.finish(event)
            return True
        return False

    def finish(self, event: ev.Event) -> None:
        """The run ended: final elapsed time and state, and a word to the user."""
        stats = self.session.stats
        stats.elapsed_s, stats.elapsed_at = (
            getattr(event, "elapsed_s", 0.0) or stats.live_elapsed(),
            None,
        )
        self.session.terminal_event = event
        stats.state = end_state(event)  # "stopped" after x, as the run browser says
        if isinstance(event, ev.RunFailed):
            # Stays until dismissed (click): the explanation is the user's next step.
            self.notify(event.error, title="Run failed", severity="error", timeout=24 * 3600)
        else:
            self.notify(f"Run finished ({event.reason}) at step {event.step}.")
