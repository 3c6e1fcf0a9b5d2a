"""Keys answer at once: leaving an attached run never waits for its trainer, and a pause says
it was taken before the trainer applies it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from conftest import wait_until
from fakes import ScriptedTrainer

from engine import events as ev
from engine.config.schema import RunConfig
from engine.control import Control
from tui.dashboard.app import Dashboard
from tui.dashboard.launch import make_app
from tui.dashboard.session import RunSession


class StuckRemote:
    """An attached run whose follower is slow to notice detach (a stuck read, a long
    replay): ``run`` returns only once the test releases it."""

    def __init__(self) -> None:
        self.detached = threading.Event()
        self.release = threading.Event()
        self.running = threading.Event()

    def detach(self) -> None:
        self.detached.set()

    def snapshot(self) -> None:
        return None

    def run(self, sink: ev.Sink, control: Control | None = None) -> None:
        sink(ev.RunStarted(run_id="remote", config={}, n_params=1, device="cpu",
                           dtype="float32", total_steps=100, steps_per_epoch=10,
                           vocab_size=60, train_tokens=1, val_tokens=1,
                           run_dir="remote"))  # fmt: skip
        self.running.set()
        self.release.wait(30)
        return None


async def test_q_on_an_attached_run_leaves_without_waiting_for_its_trainer(
    tiny_config: RunConfig, tmp_path: Path
) -> None:
    remote = StuckRemote()
    app = Dashboard(tiny_config, lambda config, resume: remote, attached=tmp_path,
                    runs_dir=tmp_path)  # fmt: skip
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: remote.running.is_set())
            began = time.monotonic()
            await pilot.press("q")
            await wait_until(pilot, lambda: app.return_value == 0, timeout=5)
            assert time.monotonic() - began < 5  # Pilot's idle waits, not the trainer's
            assert remote.detached.is_set()
            assert not remote.release.is_set()  # its thread is still in run(): not joined
    finally:
        remote.release.set()


def test_detach_while_the_trainer_is_being_made_lets_it_go_once_made(
    tiny_config: RunConfig, tmp_path: Path
) -> None:
    """q pressed while an attached run's follower was still being made: it used to be made
    after the detach, follow the run for ever, and hold the process open."""
    made, building = threading.Event(), threading.Event()
    remote = StuckRemote()
    remote.run = lambda sink, control=None: remote.detached.wait(5)  # type: ignore[method-assign]

    def slow_factory(config: RunConfig, resume: str | None) -> StuckRemote:
        building.set()
        made.wait(5)
        return remote

    session = RunSession(slow_factory, runs_dir=tmp_path, attached=tmp_path)
    control = session.begin(tiny_config)
    worker = threading.Thread(
        target=session.train, args=(tiny_config, None, control, lambda event: None)
    )
    worker.start()
    assert building.wait(5)
    assert not session.quit_needs_wait()  # attached: quitting only detaches
    made.set()
    worker.join(5)
    assert not worker.is_alive()
    assert remote.detached.is_set()


async def test_p_and_w_say_they_were_taken_before_the_trainer_acts(tiny_config: RunConfig) -> None:
    made: list[ScriptedTrainer] = []

    def factory(config: RunConfig, resume: str | None) -> ScriptedTrainer:
        made.append(ScriptedTrainer(config, resume, step_delay_s=0.05))
        return made[-1]

    app = make_app(trainer_factory=factory)
    app.session.initial_config = tiny_config.model_copy(update={"max_steps": 100_000})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.state == "running")
        # The trainer reads no command until the gate opens (a step or an evaluation going on).
        control, gate = app.session.control, threading.Event()
        drain = control.drain
        control.drain = lambda: drain() if gate.is_set() else []
        status = app.main_screen.status
        await pilot.press("p")
        assert "state pausing…" in str(status.render())  # redrawn now, not at its next tick
        assert app.session.stats.state == "running"
        gate.set()
        await wait_until(pilot, lambda: app.session.stats.state == "paused")
        await wait_until(pilot, lambda: "state paused" in str(status.render()))
        gate.clear()
        await pilot.press("w")
        assert "state saving…" in str(status.render())  # until the checkpoint is saved
        gate.set()
        await wait_until(pilot, lambda: "state paused" in str(status.render()))
        await pilot.press("p")
        await wait_until(pilot, lambda: "state running" in str(status.render()))
