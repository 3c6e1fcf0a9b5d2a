"""RunSession without Textual: starting, following, detaching, refusing while training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine import events as ev
from engine.config.schema import RunConfig
from tui.dashboard.session import RunSession


class Trainer:
    """Sends a RunStarted and a RunFinished; remembers a detach."""

    def __init__(self) -> None:
        self.detached = False

    def run(self, sink, control=None):
        sink(ev.RunStarted("t", {}, 1, "cpu", "float32", 1, 1, 65, 100, 10))
        end = ev.RunFinished(reason="done", step=1, best_val_loss=2.0, elapsed_s=0.1)
        sink(end)
        return end

    def snapshot(self):
        return None

    def detach(self) -> None:
        self.detached = True


def session(tmp_path: Path, **kwargs) -> tuple[RunSession, list]:
    made: list[tuple[RunConfig, str | None, Trainer]] = []

    def factory(config, resume):
        trainer = Trainer()
        made.append((config, resume, trainer))
        return trainer

    return RunSession(factory, runs_dir=tmp_path, **kwargs), made


def test_begin_then_train_sends_events_of_the_current_run_only(tmp_path: Path) -> None:
    s, made = session(tmp_path, opened="some-run")
    config = RunConfig(learning_rate=0.01)
    control = s.begin(config)
    assert s.opened is None and s.stats.state == "starting" and s.stats.lr == 0.01
    assert s.running and not s.train_done.is_set()
    seen: list[ev.Event] = []
    s.train(config, None, control, seen.append)
    assert [type(e) for e in seen] == [ev.RunStarted, ev.RunFinished]
    assert s.train_done.is_set() and s.trainer is made[0][2]

    old = control
    s.begin(config)  # a newer run: the old one's events and end are dropped
    seen.clear()
    s.train(config, None, old, seen.append)
    assert seen == [] and not s.train_done.is_set()


def test_a_raising_factory_becomes_a_run_failed(tmp_path: Path) -> None:
    def broken(config, resume):
        raise RuntimeError("no corpus")

    s = RunSession(broken, runs_dir=tmp_path)
    config = RunConfig()
    control = s.begin(config)
    seen: list[ev.Event] = []
    s.train(config, None, control, seen.append)
    assert isinstance(seen[0], ev.RunFailed) and "no corpus" in seen[0].error


def test_pause_stop_save_need_a_run(tmp_path: Path) -> None:
    s, _ = session(tmp_path)
    assert s.pause_or_resume().startswith("No run to pause")
    assert not s.stop() and not s.save() and not s.set_live("learning_rate", 0.1)
    s.begin(RunConfig())
    s.stats.state = "running"
    assert s.pause_or_resume() == "" and s.save() and s.set_live("learning_rate", 0.1)
    assert s.stop() and s.stats.state == "stopping"


def test_refuses_while_training_here_but_detaches_a_followed_run(tmp_path: Path) -> None:
    s, _ = session(tmp_path)
    s.begin(RunConfig())
    s.stats.state = "running"
    assert (
        s.refusal("open another run") == "A run is going: stop it (x) before you open another run."
    )

    followed, _ = session(tmp_path, attached=tmp_path / "other")
    trainer = Trainer()
    followed.trainer = trainer
    followed.stats.state = "running"
    assert followed.refusal("open another run") == ""
    assert trainer.detached and followed.stats.state == "detached" and not followed.running


def test_stop_following_goes_back_to_the_local_factory(tmp_path: Path) -> None:
    s, _ = session(tmp_path)
    local = s.trainer_factory
    s.follow(tmp_path / "remote", lambda config, resume: Trainer())
    assert s.attached == tmp_path / "remote" and s.trainer_factory is not local
    s.resume_from(tmp_path / "stopped")
    assert s.attached is None and s.trainer_factory is local
    assert s.resume == str(tmp_path / "stopped") and s.opened is None and s.loaded is None


def test_show_opened_resets_stats_and_explains_the_next_start(tmp_path: Path) -> None:
    s, _ = session(tmp_path)
    s.stats.step = 50
    s.show_opened(tmp_path / "run-a", None)
    assert s.stats.step == 0 and s.opened == str(tmp_path / "run-a")
    assert s.explain_new_run and s.resume is None and s.trainer is None


def test_quit_stops_a_run_once_then_lets_go(tmp_path: Path) -> None:
    s, _ = session(tmp_path)
    assert not s.quit_needs_wait()  # nothing trains: quit at once
    s.begin(RunConfig())
    s.stats.state = "running"
    assert s.quit_needs_wait() and s.quitting and s.stats.state == "stopping"
    assert not s.quit_needs_wait()  # q again: quit now


def test_session_imports_no_textual() -> None:
    code = "import sys, tui.dashboard.session; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
