"""Exact resume at any thread count: with num_threads = 0 the tuner picks the count, and the
count changes a step's float sums, so a checkpoint keeps the tuner's state and a resume
applies it before its first step.

The tuner's measurements are made deterministic: a fake machine says how long a step takes
at each count, and the resumed session runs on a machine where the other count is faster,
so a resume that measured afresh would train its next steps with another count.
"""

from __future__ import annotations

import pytest
import torch

from engine.control import Control
from engine.events import RunStarted, StepCompleted
from engine.runtime.threads import ThreadTuner
from engine.train import start as run_start
from engine.train.trainer import Trainer

N = 36
GPT = {"model": "gpt", "n_layer": 1, "n_head": 2, "n_embd": 16, "dropout": 0.1}
FIRST_MACHINE = {1: 0.10, 2: 0.06}  # two threads win the probe of steps 1..16
BUSIER_MACHINE = {1: 0.05, 2: 0.06}  # a fresh probe would pick one thread


def fake_machine(monkeypatch: pytest.MonkeyPatch, step_s: dict[int, float]) -> None:
    """Two candidate counts, and each step timed as ``step_s`` says for its count."""

    class Timed(ThreadTuner):
        def after_step(self, seconds: float) -> str | None:
            return super().after_step(step_s[self.in_use])

    monkeypatch.setattr(run_start, "ThreadTuner", Timed)
    monkeypatch.setattr(run_start, "usable_cores", lambda: 2)


def losses(events) -> dict[int, float]:
    return {e.step: e.loss for e in events if isinstance(e, StepCompleted)}


def weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


@pytest.mark.parametrize("stop_at", [6, 24], ids=["mid-probe", "after-probe"])
def test_a_resume_with_measured_threads_is_bit_exact(
    make_config, runs_dir, monkeypatch, stop_at: int
) -> None:
    cfg = make_config(max_steps=N, eval_interval=12, num_threads=0, sample_length=0, **GPT)
    fake_machine(monkeypatch, FIRST_MACHINE)
    straight: list = []
    Trainer(cfg, runs_dir=runs_dir, run_id="straight").run(straight.append)

    first: list = []
    control = Control()

    def stop(event) -> None:
        first.append(event)
        if isinstance(event, StepCompleted) and event.step == stop_at:
            control.stop()

    assert Trainer(cfg, runs_dir=runs_dir, run_id="split").run(stop, control).step == stop_at
    fake_machine(monkeypatch, BUSIER_MACHINE)
    second: list = []
    Trainer(runs_dir=runs_dir, resume="split").run(second.append)

    expected = losses(straight)
    assert losses(first) == {s: expected[s] for s in range(1, stop_at + 1)}
    assert losses(second) == {s: expected[s] for s in range(stop_at + 1, N + 1)}  # exact ==
    [started] = [e for e in second if isinstance(e, RunStarted)]
    assert any("as before the resume" in note for note in started.notes)
    a, b = weights(runs_dir / "straight" / "latest.pt"), weights(runs_dir / "split" / "latest.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Machine:
    """Step time by thread count, and the count torch was last told."""

    def __init__(self, step_s: dict[int, float]) -> None:
        self.step_s, self.threads, self.now = step_s, 2, 0.0

    def set_threads(self, n: int) -> None:
        self.threads = n

    def counts(self, tuner: ThreadTuner, steps: int) -> list[int]:
        used = []
        for _ in range(steps):
            used.append(self.threads)
            self.now += self.step_s[self.threads]
            tuner.after_step(self.step_s[self.threads])
        return used


@pytest.mark.parametrize("split", [3, 9, 20])
def test_a_restored_tuner_uses_the_same_counts_at_the_same_steps(split: int) -> None:
    machine = Machine({1: 0.10, 2: 0.06})
    straight = machine.counts(ThreadTuner(machine.set_threads, 2, lambda: machine.now), 30)
    machine = Machine({1: 0.10, 2: 0.06})
    tuner = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    before = machine.counts(tuner, split)
    saved = tuner.state_dict()
    machine.threads = 2  # a new process: torch starts with one thread per core
    again = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    assert again.restore(saved) and machine.threads == saved["in_use"]
    assert before + machine.counts(again, 30 - split) == straight


@pytest.mark.parametrize(
    "state",
    [None, "x", {}, {"candidates": [1, 2, 3]}, {"candidates": [1, 2], "chosen": 0}],
)
def test_an_unusable_tuner_state_leaves_a_fresh_probe(state) -> None:
    machine = Machine({1: 0.10, 2: 0.06})
    tuner = ThreadTuner(machine.set_threads, 2, lambda: machine.now)
    saved = ThreadTuner(machine.set_threads, 3, lambda: 0.0).state_dict()  # other cores
    for bad in (state, saved):
        assert not tuner.restore(bad)
    assert tuner.probing and machine.threads == 1


def test_a_compile_decision_is_restored_not_taken_again() -> None:
    class Model:
        active = True

        def decide(self, use: bool) -> None:
            self.active = use

    class Timing:
        threads = None
        compile_switch = staticmethod(lambda use: None)
        compile_pending = False

    for decided in (True, False):
        model, timing = Model(), Timing()
        notes = run_start.restore_numerics(timing, model, {"compiled": decided})
        assert model.active is decided and timing.compile_pending is decided
        assert timing.compile_switch is None and notes
        assert run_start.numerics_state(timing, model) == {"compiled": decided}
