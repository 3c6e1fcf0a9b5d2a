"""A compiled run that measures its thread count resumes at the same counts (issue 28, item
4's leftover): the resumed process compiles again at its first step, which the saved run did
not, and that step used to restart the thread tuner, whose fresh probe then ran the next
steps at other counts (another float sum order: not bit-exact).

No torch.compile here: the timing sees a first step as long as a compile, and a fake
machine times the other steps by their thread count (as in test_resume_exact_threads).
"""

from __future__ import annotations

import pytest

from engine.runtime.threads import ThreadTuner
from engine.train import start as run_start
from engine.train.budget import RunClock
from engine.train.timing import RunTiming

STEP_S = {1: 0.10, 2: 0.06}
COMPILE_S = 30.0
N = 40


class Machine:
    """Step time by thread count, the count torch was last told, and a clock."""

    def __init__(self) -> None:
        self.threads, self.now = 2, 0.0

    def set_threads(self, n: int) -> None:
        self.threads = n

    def tuner(self) -> ThreadTuner:
        return ThreadTuner(self.set_threads, 2, lambda: self.now)


class Model:
    """A CompiledModel's decision, without compiling."""

    active = False

    def decide(self, use: bool) -> None:
        self.active = use


def timing_for(make_config, machine: Machine, saved: dict | None = None) -> RunTiming:
    timing = RunTiming(
        make_config(num_threads=0), RunClock(lambda: machine.now), {}, compiled=False,
        eval_windows=1,
    )  # fmt: skip
    timing.threads = machine.tuner()
    timing.defer_compile(Model().decide, "", "float32")  # "": no compile cost recorded
    return timing


def counts(timing: RunTiming, machine: Machine, steps: int, first_s: float | None = None):
    used = []
    for i in range(steps):
        used.append(machine.threads)
        seconds = first_s if i == 0 and first_s else STEP_S[machine.threads]
        machine.now += seconds
        timing.step_done(seconds, 1, i, 10_000)
    return used


def compiled_at_start(make_config, machine: Machine) -> tuple[RunTiming, Model]:
    """A run whose compile was decided and taken at its first step (the tuner restarted)."""
    timing, model = timing_for(make_config, machine), Model()
    timing.compile_switch = None
    model.decide(True)
    timing.compile_pending = True
    counts(timing, machine, 1, COMPILE_S)
    return timing, model


@pytest.mark.parametrize("split", [3, 8, 12, 25])
def test_a_resumed_compiled_run_keeps_its_thread_counts(make_config, split: int) -> None:
    machine = Machine()
    timing, model = compiled_at_start(make_config, machine)
    straight = counts(timing, machine, N)

    machine = Machine()
    timing, model = compiled_at_start(make_config, machine)
    before = counts(timing, machine, split)
    saved = run_start.numerics_state(timing, model)
    assert saved["compiled"] is True and "compile_pending" not in saved

    machine.threads = 2  # a new process: one thread per core
    resumed = timing_for(make_config, machine)
    notes = run_start.restore_numerics(resumed, Model(), saved)
    assert resumed.compile_pending and resumed.recompile, notes
    after = counts(resumed, machine, N - split, COMPILE_S)  # its first step compiles again
    assert before + after == straight
    assert resumed.compile_s == COMPILE_S and not resumed.recompile


def test_a_compile_decided_but_not_taken_before_the_save_restarts_the_tuner(
    make_config,
) -> None:
    # Saved between the decision and its compile step: the uninterrupted run's compile step
    # restarts the tuner, so the resumed one must too.
    machine = Machine()
    timing, model = compiled_at_start(make_config, machine)
    counts(timing, machine, 20)
    timing.compile_pending = True  # as _decide_compile leaves it
    saved = run_start.numerics_state(timing, model)
    assert saved["compile_pending"] is True
    resumed = timing_for(make_config, Machine())
    run_start.restore_numerics(resumed, Model(), saved)
    assert resumed.compile_pending and not resumed.recompile
    resumed.step_done(COMPILE_S, 1, 0, 10_000)
    assert resumed.threads.probing  # measured afresh, as the straight run did
