"""The run browser's choices, carried out by the dashboard: open, attach, resume, compare.

A mixin of :class:`tui.dashboard.app.Dashboard`, like tui/run_events.py. Run folders are read and
checkpoints loaded in thread workers; their results come back as messages, so the UI never
waits on the disk or on torch.

- **open** shows a finished (or any) run as ``llmv0-tui --run`` does: its history replayed
  into the charts and samples, its checkpoint loaded for generation. Pressing s afterwards
  trains a *new* run with that run's config, exactly as after ``--run`` (the first s says
  so, the second starts it); resuming is the browser's r.
- **attach** follows a running run through the same path as ``--attach``
  (:func:`tui.dashboard.trainer_factory.remote_factory` and ``action_start``); d detaches
  and follows again.
- **resume** continues an interrupted or stopped run from its latest.pt through the app's
  trainer factory (``trainer_factory(config, resume)``), with the run's saved config.
- **overlay** adds the chosen runs' loss curves to the loss chart; o (or the browser's c)
  clears them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from engine.run.state import shown_state
from tui.dashboard.messages import OverlayLoaded, RunOpened
from tui.dashboard.model_source import GenerationModel
from tui.dashboard.trainer_factory import read_history, remote_factory
from tui.dashboard.widgets.charts.loss_chart import OverlaySeries, bucket_means
from tui.dashboard.widgets.status_bar import RunStats
from tui.shared.formatting import smooth

if TYPE_CHECKING:
    from engine.config.schema import RunConfig
    from engine.run.summary import Curves
    from tui.dashboard.app import Dashboard
    from tui.dashboard.screens.run_browser import BrowserChoice

    _Base = Dashboard
else:
    _Base = object


def saved_config(folder: Path) -> RunConfig | None:
    """The config a run has now (its saved config with its live changes), or None when
    unreadable."""
    from engine.run.folder import RunFolder

    return RunFolder(folder).effective_config()


def overlay_series(label: str, curves: Curves) -> OverlaySeries:
    """Validation loss per evaluation; a run with no evaluation shows its smoothed train loss."""
    if curves.val_steps:
        return OverlaySeries(label, list(curves.val_steps), list(curves.val_loss))
    window = max(1, len(curves.train_loss) // 100)
    steps, losses = bucket_means(curves.train_steps, smooth(curves.train_loss, window))
    return OverlaySeries(f"{label} (train)", steps, losses)


class RunBrowserMixin(_Base):
    """Opens the run browser (r) and does what the user chose there."""

    def action_runs(self) -> None:
        """Show every run of the runs folder."""
        # Imported here: its DataTable costs ~70 ms that the first frame need not wait for.
        from tui.dashboard.screens.run_browser import RunBrowser

        if not isinstance(self.screen, RunBrowser):
            self.push_screen(RunBrowser(self.runs_dir), self.carry_out)

    def carry_out(self, choice: BrowserChoice | None) -> None:
        """The browser closed with ``choice`` (None: closed without one)."""
        if choice is None:
            return
        folders = [row.summary.path for row in choice.runs]
        if choice.action == "clear":
            self.action_clear_overlay()
        elif choice.action == "overlay":
            self._read_overlay(folders)
        elif choice.action == "open":
            self.open_run(folders[0])
        elif choice.action == "attach":
            self.attach_run(folders[0])
        elif choice.action == "resume":
            self.resume_run(folders[0])

    def _refuse_while_training(self, what: str) -> bool:
        """True (and says why) while a run trained here is going; an attached run is only
        followed, so it is detached instead (its training goes on)."""
        if self.running and self.attached is None:
            self.notify(f"A run is going: stop it (x) before you {what}.", severity="warning")
            return True
        if self.running:
            self.detach()
            self.stats.state = "detached"
            self.editor.set_running(False)
        return False

    def _stop_following(self) -> None:
        """Back to training in this process, after following an attached run."""
        if self.attached is not None:
            self.detach()
            self.attached = None
            self.trainer_factory = self.local_factory

    # --- open ------------------------------------------------------------------------
    def open_run(self, folder: Path) -> None:
        """Show a run's charts and samples and load its checkpoint (in a worker)."""
        if self._refuse_while_training("open another run"):
            return
        self.notify(f"Opening {folder.name}…", timeout=3)
        self._read_run(folder)

    @work(thread=True, exclusive=True, exit_on_error=False, group="open-run")
    def _read_run(self, folder: Path) -> None:
        from engine.run.checkpoint import CheckpointError
        from engine.run.folder import load_for_inference
        from engine.run.summary import summarise

        try:
            history = read_history(str(folder), self.runs_dir)
            state = summarise(history, folder).state
        except Exception as exc:  # unreadable log: say so, keep the UI
            self.post_message(RunOpened(folder, [], None, None, f"Cannot read {folder}: {exc}"))
            return
        try:
            model, tokenizer, config = load_for_inference(folder)
            loaded = GenerationModel(model, tokenizer, f"checkpoint {folder.name}")
            self.post_message(RunOpened(folder, history, loaded, config, state=state))
        except (CheckpointError, OSError) as exc:
            note = f"{exc} Its charts are shown; generation needs a checkpoint."
            config = saved_config(folder)
            self.post_message(RunOpened(folder, history, None, config, note, state))

    def on_run_opened(self, message: RunOpened) -> None:
        if self.running and self.attached is None:  # a run started while the worker read
            return
        self._stop_following()
        for chart in (self.loss_chart, self.metric_chart):
            chart.reset()
        self.pager.clear_samples()
        self.stats = RunStats()
        self.terminal_event = None
        self.trainer = None  # generation now uses the opened checkpoint, not older weights
        self.loaded = message.loaded
        self.resume = None
        self.opened = str(message.folder)
        self.explain_new_run = True
        for event in message.history:
            self.apply_event(event, replay=True)
        if message.config is not None:
            self.editor.set_config(message.config)
        # Shown, not acted on: "running" would make this dashboard think it trains the run
        # (one training in another process is followed with the browser's a).
        self.stats.state = shown_state(message.state)
        self._update_buttons()
        if message.loaded is not None:
            self.tabs.active = "generate"
        if message.note:
            self.notify(message.note, title=message.folder.name, severity="warning", timeout=8)
        self.tick()

    # --- attach and resume -----------------------------------------------------------
    def attach_run(self, folder: Path) -> None:
        """Follow (and steer) a run another process trains: ``--attach`` from the browser."""
        if self._refuse_while_training("attach to another run"):
            return
        self.attached = folder
        self.trainer_factory = remote_factory(folder)
        self.resume = None
        self.opened = None
        self.loaded = None
        config = saved_config(folder)
        if config is not None:
            self.editor.set_config(config)
        self.action_start()

    def action_detach(self) -> None:
        """An attached run: stop following it (its training goes on), or follow it again."""
        if self.attached is None:
            self.notify("d detaches from a run attached with --attach RUN or the browser (r, a).")
            return
        if self.running:
            self.detach()
            self.stats.state = "detached"
            self.editor.set_running(False)
            self._update_buttons()
            self.notify("Detached: the run trains on. Press d to follow it again.")
        else:
            self.action_start()

    def detach(self) -> None:
        """Stop following an attached run; never touches its training."""
        detach = getattr(self.trainer, "detach", None)
        if detach is not None:
            detach()

    def resume_run(self, folder: Path) -> None:
        """Continue an interrupted or stopped run from its latest.pt, with its saved config."""
        if self._refuse_while_training("resume another run"):
            return
        self._stop_following()
        config = saved_config(folder)
        if config is not None:  # a resume must keep the run's model shape and data
            self.editor.set_config(config)
        self.resume = str(folder)
        self.opened = None
        self.loaded = None
        self.action_start()

    # --- overlay ---------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="overlay")
    def _read_overlay(self, folders: list[Path]) -> None:
        from engine.run.summary import curves, load_history

        series = []
        for folder in folders:
            try:
                series.append(overlay_series(folder.name, curves(load_history(folder))))
            except Exception:  # an unreadable run is left out; the others still compare
                continue
        self.post_message(OverlayLoaded(series))

    def on_overlay_loaded(self, message: OverlayLoaded) -> None:
        drawn = [s for s in message.series if s.steps]
        self.loss_chart.set_overlay(drawn)  # drawn on the next chart tick, not now
        if drawn:
            names = ", ".join(s.label for s in drawn)
            self.notify(f"Comparing on the loss chart: {names} (o clears).")
        else:
            self.notify("Those runs have no loss points to compare yet.", severity="warning")

    def action_clear_overlay(self) -> None:
        """Remove the compared runs from the loss chart."""
        if self.loss_chart.clear_overlay():
            self.notify("Overlay cleared.")
        else:
            self.notify("No overlay: r lists the runs; mark some with space, then o.")
