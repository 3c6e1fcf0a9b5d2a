"""The thread count is chosen by timing real steps, and chosen again when the speed drifts."""

from __future__ import annotations

import pytest
import torch

from engine.events import RunNotice
from engine.runtime.threads import ThreadTuner, usable_cores
from engine.train.trainer import Trainer


class Machine:
    """Step time as a function of the thread count in use; a fake clock for rate limits."""

    def __init__(self, step_s: dict[int, float]) -> None:
        self.step_s = step_s
        self.threads = max(step_s)  # torch starts with one thread per core
        self.now = 0.0

    def set_threads(self, n: int) -> None:
        self.threads = n

    def run(self, tuner: ThreadTuner, steps: int) -> list[str]:
        notes = []
        for _ in range(steps):
            self.now += self.step_s[self.threads]
            note = tuner.after_step(self.step_s[self.threads])
            if note:
                notes.append(note)
        return notes


def test_idle_machine_gets_every_core() -> None:
    machine = Machine({1: 0.10, 2: 0.06})
    tuner = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    [note] = machine.run(tuner, 16)  # 1, 2, 2, 1 threads: four blocks of four steps
    assert tuner.chosen == 2 and machine.threads == 2
    assert "cpu threads: 2" in note and "1: 100 ms, 2: 60 ms" in note


def test_contended_machine_gets_fewer_threads_and_a_tie_goes_to_fewer() -> None:
    machine = Machine({1: 0.10, 2: 3.0})  # one competitor on two cores: barriers stall
    tuner = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    notes = machine.run(tuner, 5)  # 4 steps at 1 thread, then one is enough to drop 2
    assert notes and tuner.chosen == 1 and machine.threads == 1
    machine = Machine({1: 0.100, 2: 0.098})
    tuner = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    machine.run(tuner, 16)
    assert tuner.chosen == 1  # 2% faster is not worth a core taken from the machine


def test_drift_triggers_a_new_measurement_at_most_once_a_minute() -> None:
    machine = Machine({1: 0.10, 2: 0.06})
    tuner = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    machine.run(tuner, 16)
    assert tuner.chosen == 2
    machine.step_s = {1: 0.11, 2: 0.45}  # another process starts competing
    machine.run(tuner, 20)  # the drift is seen, but the last probe was under 60 s ago
    assert tuner.probes == 1 and machine.threads == 2
    machine.run(tuner, 150)  # > 60 s later: measured again, and one thread wins
    assert tuner.probes == 2 and tuner.chosen == 1 and machine.threads == 1


def test_a_competitor_that_leaves_gives_the_cores_back() -> None:
    """One thread takes as long with a competitor as without, so the drift check cannot see
    it leave: a gpt-30min run whose first probe met a short-lived competitor kept one thread
    for 19 minutes, until stopped. With fewer threads than cores the tuner checks again anyway."""
    machine = Machine({1: 0.31, 2: 1.1})  # a competitor while the first probe runs
    tuner = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    machine.run(tuner, 10)
    assert tuner.chosen == 1
    machine.step_s = {1: 0.31, 2: 0.18}  # it has gone
    notes = machine.run(tuner, 400)  # two minutes
    assert tuner.chosen == 2 and machine.threads == 2
    assert [n for n in notes if "re-measured: a core came free" in n]


def test_checks_under_lasting_contention_back_off_and_stay_quiet() -> None:
    machine = Machine({1: 0.10, 2: 3.0})
    tuner = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    machine.run(tuner, 5)
    slow_steps = 0
    notes = []
    for _ in range(36_000):  # an hour of 0.1 s steps
        slow_steps += machine.threads == 2
        notes += machine.run(tuner, 1)
    assert tuner.chosen == 1 and notes == []  # a check that changes nothing says nothing
    # A minute, then 2, 4, 5, 5, ... minutes apart: 14 checks in the hour, one slow step each.
    assert 10 <= tuner.probes - 1 <= 15 and slow_steps == tuner.probes - 1


class SlowingMachine(Machine):
    """A shared machine slowing down while it is measured: each step 3% slower than the one
    before it (the whole machine, whatever the thread count)."""

    def __init__(self, step_s: dict[int, float]) -> None:
        super().__init__(step_s)
        self.factor = 1.0

    def run(self, tuner: ThreadTuner, steps: int) -> list[str]:
        notes = []
        for _ in range(steps):
            seconds = self.step_s[self.threads] * self.factor
            self.factor += 0.03
            self.now += seconds
            note = tuner.after_step(seconds)
            if note:
                notes.append(note)
        return notes


def test_a_machine_slowing_down_during_the_probe_still_gets_the_faster_count() -> None:
    """Timed one way (1 then 2 threads), 10% faster at two threads read as a tie and one
    thread was kept; timed there and back, the drift cancels."""
    machine = SlowingMachine({1: 0.100, 2: 0.090})
    tuner = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    [note] = machine.run(tuner, 16)
    assert tuner.chosen == 2 and machine.threads == 2, note


def test_after_a_restart_the_first_steps_are_not_timed() -> None:
    """The first compiled steps run slow: they must not make a count look slow."""
    machine = Machine({1: 0.10, 2: 0.06})
    tuner = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    machine.run(tuner, 16)
    tuner.restart()  # now at 1 thread, the first of the probe
    slow = [tuner.after_step(5.0) for _ in range(3)]  # warm-up steps, any count
    assert slow == [None, None, None] and tuner.probing
    [note] = machine.run(tuner, 16)
    assert tuner.chosen == 2 and "1: 100 ms, 2: 60 ms" in note


def test_single_core_never_probes() -> None:
    machine = Machine({1: 0.1})
    tuner = ThreadTuner(machine.set_threads, 1, lambda: machine.now)
    assert machine.run(tuner, 10) == [] and tuner.chosen == 1


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.skipif(usable_cores() < 2, reason="needs two usable cores")
def test_trainer_measures_threads_when_num_threads_is_0(
    make_config, runs_dir, new_recorder, restore_threads
) -> None:
    seen = new_recorder()
    Trainer(make_config(num_threads=0, max_steps=30), runs_dir=runs_dir).run(seen)
    [note] = [e for e in seen.of(RunNotice) if e.kind == "threads"]
    chosen = int(note.message.split(":")[1].split(",")[0])
    assert 1 <= chosen <= usable_cores() and torch.get_num_threads() == chosen
