"""RunSession: what the dashboard knows about its run, as plain data and rules (no Textual).

It holds the control channel, the trainer and the factories that make one, the stats the status
bar shows, and which run is shown (opened, resumed, attached). The main screen asks it; tests
drive it without an App. ``train`` runs on a worker thread and calls ``sink`` only for the
run the session still follows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine import events as ev
from engine.control import Control
from engine.run.state import ACTIVE
from tui.dashboard.model_source import GenerationModel
from tui.dashboard.trainer_factory import TrainerFactory, TrainerLike, default_trainer_factory

if TYPE_CHECKING:
    from engine.config.schema import RunConfig  # pydantic: loaded after the first frame


@dataclass
class RunStats:
    """Everything the status bar shows; plain data the session's events update."""

    state: str = "idle"
    run_id: str = ""
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    lr: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float = 0.0
    elapsed_at: float | None = None  # monotonic time when elapsed_s was reported
    start_step: int = 0
    n_params: int | None = None
    device: str = ""
    best_val_loss: float | None = None
    last_checkpoint: str = ""
    message: str = ""
    # A key's request the trainer has not confirmed yet ("pausing…"): the status shows it in
    # place of the state from the key on, so every key answers at once.
    pending: str = ""
    compiling: bool = False  # the first step compiles: no speed or ETA to show yet
    reported_eta_s: float | None = None  # the engine's (pauses and compile excluded)
    eta_at: float | None = None  # monotonic time of that report; None while paused

    def live_elapsed(self) -> float:
        """Elapsed seconds, still ticking while running."""
        if self.state in {"running", "stopping"} and self.elapsed_at is not None:
            return self.elapsed_s + time.monotonic() - self.elapsed_at
        return self.elapsed_s

    def eta_s(self) -> float | None:
        """Seconds left: the engine's estimate, counting down between reports; else the
        average pace so far (None until it can be estimated)."""
        if self.state in {"running", "paused"} and self.reported_eta_s is not None:
            if self.eta_at is None or self.state == "paused":
                return self.reported_eta_s
            return max(0.0, self.reported_eta_s - (time.monotonic() - self.eta_at))
        if self.compiling:
            return None
        done = self.step - self.start_step
        if self.state not in {"running", "paused"} or done <= 0 or not self.total_steps:
            return None
        return (self.total_steps - self.step) * self.live_elapsed() / done


class RunSession:
    """The dashboard's run: control, trainer, factories, stats and what is shown.

    ``runs_dir`` is the runs folder the run browser lists (and real trainers write).
    """

    def __init__(
        self,
        trainer_factory: TrainerFactory,
        *,
        runs_dir: Path,
        initial_config: RunConfig | None = None,
        config_path: str = "",
        opened: str | None = None,
        loaded: GenerationModel | None = None,
        attached: Path | None = None,
    ) -> None:
        self.runs_dir = runs_dir
        self.initial_config = initial_config
        self.config_path = config_path
        self.attached = attached  # a run folder another process trains (--attach)
        self.trainer_factory = trainer_factory
        # What trains here once the user stops following an attached run (browser: resume).
        self.local_factory = (
            trainer_factory if attached is None else default_trainer_factory(runs_dir)
        )
        # Set only by an explicit resume (the run browser's r). A run opened with --run or
        # the browser's Enter is shown, never written: s trains a new run with its config.
        self.resume: str | None = None
        self.opened = opened  # the run (id or path) shown from its folder, until one starts here
        self.explain_new_run = opened is not None  # the first s after opening says what s does
        self.loaded = loaded
        self.stats = RunStats()
        self.control: Control | None = None
        self.trainer: TrainerLike | None = None
        self.terminal_event: ev.Event | None = None
        self.quitting = False
        # Set by detach: a trainer still being made when the user detached is let go as soon
        # as it exists (q must never wait for a run it only follows).
        self.detach_requested = False
        self.train_done = threading.Event()  # set when no trainer thread is running
        self.train_done.set()

    @property
    def running(self) -> bool:
        return self.stats.state in ACTIVE

    # --- a run trained (or followed) here ---------------------------------------------
    def begin(self, config: RunConfig) -> Control:
        """A new run is starting with ``config``: fresh stats and a fresh control channel."""
        self.opened = None
        self.stats = RunStats(state="starting", lr=config.learning_rate)
        self.terminal_event = None
        self.control = Control()
        self.detach_requested = False
        self.train_done.clear()
        return self.control

    def train(self, config: RunConfig, resume: str | None, control: Control, sink: ev.Sink) -> None:
        """Worker thread: build the trainer and run it; ``sink`` sees only the current run.

        A run the session has moved on from (an attached run detached, then another followed
        or started) may still be winding down: its events and its end are dropped.
        """

        def current(event: ev.Event) -> None:
            if control is self.control:
                sink(event)

        try:
            trainer = self.trainer_factory(config, resume)
            if control is self.control:
                self.trainer = trainer
                if self.detach_requested:  # detached while it was being made
                    self.detach()
            trainer.run(current, control)
        except Exception as exc:  # the engine should not raise; if it does, show it
            current(ev.RunFailed(error=f"{type(exc).__name__}: {exc}", step=0))
        finally:
            if control is self.control:
                self.train_done.set()

    def pause_or_resume(self) -> str:
        """Pause a running run, resume a paused one; a reason when there is none to pause."""
        if self.control is None or self.stats.state not in {"running", "paused"}:
            return "No run to pause: press s to start."
        if self.stats.state == "paused":
            self.control.resume()
            self.stats.pending = "resuming…"
        else:
            self.control.pause()
            self.stats.pending = "pausing…"
        return ""

    def stop(self) -> bool:
        """Ask the run to stop after the current step (it saves first); False when none runs."""
        if self.control is None or not self.running:
            return False
        self.control.stop()
        self.stats.state = "stopping"
        self.stats.pending = ""
        return True

    def save(self) -> bool:
        """Ask for latest.pt after the current step; False when no run is going."""
        if self.control is None or not self.running:
            return False
        self.control.save()
        self.stats.pending = "saving…"
        return True

    def confirmed(self, event: ev.Event) -> None:
        """The trainer did what a key asked: the status shows the state again."""
        done = {"pausing…": ev.RunPaused, "resuming…": ev.RunResumed,
                "saving…": ev.CheckpointSaved}.get(self.stats.pending)  # fmt: skip
        if (done is not None and isinstance(event, done)) or isinstance(
            event, ev.RunFinished | ev.RunFailed
        ):
            self.stats.pending = ""

    def set_live(self, name: str, value: object) -> bool:
        """Send a live edit to the running trainer; False when none runs."""
        if self.control is None or not self.running:
            return False
        self.control.set(name, value)
        return True

    def model_source(self) -> GenerationModel | None:
        """Called from the generation worker: live weights if training, else the loaded run."""
        trainer = self.trainer
        if trainer is not None:
            snapshot = trainer.snapshot()
            if snapshot is not None:
                model, tokenizer = snapshot
                return GenerationModel(model, tokenizer, f"live weights (step {self.stats.step})")
        return self.loaded

    # --- which run is shown -------------------------------------------------------------
    def detach(self) -> None:
        """Stop following an attached run; never touches its training, never waits."""
        self.detach_requested = True
        detach = getattr(self.trainer, "detach", None)
        if detach is not None:
            detach()

    def refusal(self, what: str) -> str:
        """Why the user cannot ``what`` now ("" when they can): a run trained here is going.

        An attached run is only followed, so it is detached instead (its training goes on).
        """
        if self.running and self.attached is None:
            return f"A run is going: stop it (x) before you {what}."
        if self.running:
            self.detach()
            self.stats.state = "detached"
        return ""

    def stop_following(self) -> None:
        """Back to training in this process, after following an attached run."""
        if self.attached is not None:
            self.detach()
            self.attached = None
            self.trainer_factory = self.local_factory

    def show_opened(self, folder: Path, loaded: GenerationModel | None) -> None:
        """A run read from its folder is now shown (never written: s trains a new run)."""
        self.stop_following()
        self.stats = RunStats()
        self.terminal_event = None
        self.trainer = None  # generation now uses the opened checkpoint, not older weights
        self.loaded = loaded
        self.resume = None
        self.opened = str(folder)
        self.explain_new_run = True

    def follow(self, folder: Path, factory: TrainerFactory) -> None:
        """Follow (and steer) the run another process trains in ``folder``."""
        self.attached = folder
        self.trainer_factory = factory
        self.resume = None
        self.opened = None
        self.loaded = None

    def resume_from(self, folder: Path) -> None:
        """The next start continues the run in ``folder`` from its latest.pt."""
        self.stop_following()
        self.resume = str(folder)
        self.opened = None
        self.loaded = None

    def shown_folder(self, resolve: Callable[[str, Path], Path]) -> Path | None:
        """The folder of the run being trained, resumed or opened (None: a fresh config)."""
        run_dir = getattr(self.trainer, "run_dir", None)
        if run_dir is not None:
            return Path(run_dir)
        shown = self.resume or self.opened  # a run being resumed, or one opened to look at
        return resolve(shown, self.runs_dir) if shown else None

    # --- leaving ----------------------------------------------------------------------
    def quit_needs_wait(self) -> bool:
        """q: True when a run trained here must stop (with its checkpoint) before quitting.

        An attached run is left training: quitting only detaches.
        """
        if self.attached is not None:
            self.detach()
        elif self.running and not self.quitting and self.control is not None:
            self.quitting = True
            self.control.stop()
            self.stats.state = "stopping"
            return True
        return False

    def let_go(self) -> None:
        """However the dashboard ends: stop a run trained here (it saves on stop); only stop
        following an attached one, which belongs to another process."""
        if self.attached is not None:
            self.detach()
        elif self.control is not None and self.running:
            self.control.stop()

    def hang_up(self) -> None:
        """The terminal went away: stop a run trained here (with its checkpoint)."""
        self.quitting = True
        if self.attached is not None:
            self.detach()
        elif self.running and self.control is not None:
            self.control.stop()
