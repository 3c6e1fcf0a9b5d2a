"""Time budgets: the schedule follows the fraction of the budget used, pauses and compilation
excluded, and a budgeted run resumes exactly (all on a fake clock, so nothing here waits)."""

from __future__ import annotations

import math

import pytest

from engine.config.schema import RunConfig
from engine.control import Control
from engine.events import EvalCompleted, RunFinished, RunPaused, RunStarted, StepCompleted
from engine.train.budget import (
    RESERVE_MARGIN,
    Every,
    Pace,
    RunClock,
    TimeBudget,
    parse_duration,
)
from engine.train.optim import lr_at
from engine.train.timing import RunTiming
from engine.train.trainer import Trainer

BUDGET = 24.0


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


def ticking(recorder, clock: FakeClock, seconds_per_step: float = 1.0, also=None):
    """A sink that records events and lets ``seconds_per_step`` pass after each step."""

    def sink(event) -> None:
        recorder(event)
        if isinstance(event, StepCompleted):
            clock.t += seconds_per_step
        if also is not None:
            also(event)

    return sink


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1h2m3s", 3723), (" 2.5m ", 150)],
)
def test_parse_duration_accepts_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "0s", "-5m", "five minutes"])
def test_parse_duration_rejects_nonsense_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"1h30m|longer than zero"):
        parse_duration(text)


def test_clock_leaves_out_pauses_and_counts_overhead_apart() -> None:
    fake = FakeClock(100.0)
    clock = RunClock(fake)
    fake.t += 10
    clock.add_overhead(4)
    clock.pause()
    fake.t += 1000  # a long pause
    assert clock.active_s == 10
    clock.resume()
    fake.t += 5
    assert (clock.active_s, clock.train_s) == (15, 11)
    carried = RunClock(FakeClock(7.0), clock.state_dict())  # a new process resumes
    assert (carried.active_s, carried.overhead_s) == (15, 4)


def test_budget_fraction_excludes_overhead_and_reserve() -> None:
    fake = FakeClock()
    clock = RunClock(fake)
    budget = TimeBudget(100.0, clock)
    fake.t = 20
    clock.add_overhead(20)  # a 20 s compile: no schedule progress
    assert budget.fraction() == 0.0
    budget.measured_eval(10 / RESERVE_MARGIN)  # the final evaluation will take ~10 s
    fake.t = 20 + 35
    assert budget.fraction() == pytest.approx(0.5)  # 35 of 70 usable seconds
    fake.t = 90
    assert budget.exhausted() and budget.remaining_s() == pytest.approx(10)


def test_every_fires_on_multiples_and_keeps_them_across_a_resume() -> None:
    every = Every(10.0)
    fired = [t for t in (3, 9.9, 10, 12, 25, 29, 30) if every.due(t)]
    assert fired == [10, 25, 30]
    resumed = Every(10.0, now=12)  # deadlines stay at multiples, not 12 + 10
    assert not resumed.due(19) and resumed.due(20)
    assert not Every(0.0).due(1e9)


@pytest.mark.parametrize("schedule", ["cosine", "wsd"])
def test_lr_by_progress_ends_at_the_floor(schedule: str) -> None:
    cfg = RunConfig(lr_schedule=schedule, learning_rate=1.0, min_lr_ratio=0.1, warmup_steps=0)
    assert lr_at(0, cfg, 0, progress=0.0) == pytest.approx(1.0)
    assert lr_at(999, cfg, 0, progress=1.0) == pytest.approx(0.1)
    assert lr_at(5, cfg, 0, progress=0.5) == lr_at(5000, cfg, 0, progress=0.5)  # steps don't count


def test_wsd_holds_then_decays_linearly() -> None:
    cfg = RunConfig(lr_schedule="wsd", learning_rate=1.0, min_lr_ratio=0.0, decay_fraction=0.2)
    assert lr_at(0, cfg, 100) == lr_at(79, cfg, 100) == 1.0
    assert lr_at(90, cfg, 100) == pytest.approx(0.5)
    assert lr_at(1, cfg, 0, progress=0.9) == pytest.approx(0.5)


def test_eta_and_tokens_per_s_exclude_compile_and_pauses() -> None:
    fake = FakeClock()
    clock = RunClock(fake)
    timing = RunTiming(RunConfig(), clock, None, compiled=True, eval_windows=1000)
    assert timing.step_done(30.0, 100)  # the compiling step: overhead, not pace
    assert timing.compile_s == 30.0 and clock.overhead_s == 30.0
    assert timing.eta_s(1, 11) is None or timing.eta_s(1, 11) == 0  # no pace yet
    timing.step_done(0.5, 100)
    timing.step_done(0.5, 100)
    assert timing.pace.tokens_per_s == pytest.approx(200.0)  # settled after two steps
    assert timing.eta_s(3, 13) == pytest.approx(5.0)  # 10 steps x 0.5 s, not x 10 s

    budgeted = RunTiming(
        RunConfig(time_budget_s=100), RunClock(fake), None, compiled=True, eval_windows=0
    )
    fake.t += 30
    budgeted.step_done(30.0, 100)
    budgeted.clock.pause()
    fake.t += 500
    budgeted.clock.resume()
    assert budgeted.eta_s(1, 0) == pytest.approx(70.0)  # the pause used none of the budget
    assert budgeted.progress(1) == 0.0  # and the compile none of the schedule


def test_pace_is_a_window_mean() -> None:
    pace = Pace(window=2)
    for s in (10.0, 1.0, 1.0):
        pace.add(s, 10)
    assert pace.step_s == 1.0


def budgeted_config(make_config, **fields):
    base = {"max_steps": 0, "time_budget_s": BUDGET, "lr_schedule": "cosine", "warmup_steps": 3,
            "learning_rate": 0.01, "min_lr_ratio": 0.1}  # fmt: skip
    return make_config(**{**base, **fields})


def lrs(recorder) -> dict[int, float]:
    return {e.step: e.lr for e in recorder.of(StepCompleted)}


def test_budgeted_run_ends_at_the_deadline_with_the_schedule_done(
    make_config, runs_dir, new_recorder
) -> None:
    cfg = budgeted_config(make_config)
    clock = FakeClock()
    seen = new_recorder()
    result = Trainer(cfg, runs_dir=runs_dir, run_id="b", clock=clock).run(ticking(seen, clock))
    assert isinstance(result, RunFinished) and result.reason == "completed"
    assert result.step == BUDGET  # one fake second a step, no overhead, free evaluations
    steps = seen.of(StepCompleted)
    # events go out before the fake clock moves: the last step began at 23 of 24 seconds
    assert steps[-1].progress == pytest.approx((BUDGET - 1) / BUDGET)
    # each step's lr is the schedule at the fraction of the budget used before it
    for event in steps:
        expected = lr_at(event.step - 1, cfg, 0, progress=(event.step - 1) / BUDGET)
        assert event.lr == pytest.approx(expected)
    assert steps[-1].eta_s == 1.0 and steps[0].eta_s == BUDGET


def test_pause_takes_no_budget_and_leaves_the_schedule_alone(
    make_config, runs_dir, new_recorder
) -> None:
    cfg = budgeted_config(make_config)
    straight_clock = FakeClock()
    straight = new_recorder()
    Trainer(cfg, runs_dir=runs_dir, run_id="s", clock=straight_clock).run(
        ticking(straight, straight_clock)
    )

    clock, control = FakeClock(), Control()

    def pause_at_5(event) -> None:
        if isinstance(event, StepCompleted) and event.step == 5:
            control.pause()
        elif isinstance(event, RunPaused):
            clock.t += 1000.0  # a pause far longer than the budget
            control.resume()

    paused = new_recorder()
    result = Trainer(cfg, runs_dir=runs_dir, run_id="p", clock=clock).run(
        ticking(paused, clock, also=pause_at_5), control
    )
    assert paused.of(RunPaused) and result.step == BUDGET
    assert lrs(paused) == lrs(straight)


def test_budgeted_run_resumes_exactly_and_keeps_the_remaining_budget(
    make_config, runs_dir, new_recorder
) -> None:
    cfg = budgeted_config(make_config, dropout=0.2, num_layers=2)
    clock = FakeClock()
    straight = new_recorder()
    Trainer(cfg, runs_dir=runs_dir, run_id="straight", clock=clock).run(ticking(straight, clock))

    clock, control = FakeClock(), Control()

    def stop_at_13(event) -> None:
        if isinstance(event, StepCompleted) and event.step == 13:
            control.stop()

    first = new_recorder()
    stopped = Trainer(cfg, runs_dir=runs_dir, run_id="split", clock=clock).run(
        ticking(first, clock, also=stop_at_13), control
    )
    assert stopped.reason == "stopped" and stopped.step == 13

    clock = FakeClock(start=5000.0)  # another process: another origin
    second = new_recorder()
    result = Trainer(runs_dir=runs_dir, resume="split", clock=clock).run(ticking(second, clock))
    assert second.of(RunStarted)[0].start_step == 13
    assert result.step == BUDGET  # 11 seconds were left, not a fresh budget
    expected = {e.step: (e.loss, e.lr) for e in straight.of(StepCompleted)}
    got = {e.step: (e.loss, e.lr) for e in first.of(StepCompleted) + second.of(StepCompleted)}
    assert got == expected
    assert all(math.isfinite(loss) for loss, _ in got.values())


def test_final_evaluation_fits_inside_the_budget(make_config, runs_dir, new_recorder) -> None:
    """Evaluations take 5 fake seconds: the measured cost is reserved, so the final one
    ends at the deadline, not 5 seconds past it."""
    cfg = budgeted_config(make_config, time_budget_s=40.0, eval_interval=1000, eval_interval_s=10)
    clock = FakeClock()

    def slow_evals(event) -> None:
        if isinstance(event, EvalCompleted):
            clock.t += 5.0

    seen = new_recorder()
    result = Trainer(cfg, runs_dir=runs_dir, run_id="e", clock=clock).run(
        ticking(seen, clock, also=slow_evals)
    )
    evals = seen.of(EvalCompleted)
    assert len(evals) >= 2 and evals[-1].step == result.step  # periodic ones, then the final
    assert 40.0 - 2.0 <= clock.t <= 40.0  # wall (fake) time at the end: within the budget
    assert seen.of(StepCompleted)[-1].lr < 0.0011  # and the schedule reached its end


def test_calibration_times_a_few_windows_and_extrapolates() -> None:
    fake = FakeClock()
    timing = RunTiming(
        RunConfig(time_budget_s=100), RunClock(fake), None, compiled=False, eval_windows=1280
    )
    calls = []

    def time_windows(n: int) -> float:
        seconds = 2.0 if not calls else 0.64  # the first call warms up
        calls.append(n)
        fake.t += seconds
        return seconds

    assert timing.calibration_due()  # nothing to settle first: no compile, no thread probe
    timing.calibrate(time_windows, windows=64)
    assert not timing.calibration_due()
    assert calls == [64, 64]
    assert timing.budget.reserve_s == pytest.approx(RESERVE_MARGIN * 0.01 * 1280)
    assert timing.clock.overhead_s == pytest.approx(2.64)  # uses budget, not schedule
    assert timing.progress(0) == 0.0


def test_calibration_waits_for_the_thread_choice_but_not_past_half_the_budget() -> None:
    class Probing:
        probing = True

    fake = FakeClock()
    timing = RunTiming(
        RunConfig(time_budget_s=100), RunClock(fake), None, compiled=False, eval_windows=10
    )
    timing.threads = Probing()
    assert not timing.calibration_due()  # timed at a thread count about to change: wait
    fake.t = 50.0
    assert timing.calibration_due()  # half the budget gone: calibrate anyway


def test_run_summary_of_a_budgeted_run_shows_its_step_total(
    make_config, runs_dir, new_recorder
) -> None:
    from engine.run.summary import list_runs

    clock = FakeClock()
    cfg = budgeted_config(make_config)
    Trainer(cfg, runs_dir=runs_dir, run_id="s", clock=clock).run(ticking(new_recorder(), clock))
    [summary] = list_runs(runs_dir)
    assert summary.step == BUDGET and summary.total_steps >= BUDGET  # not "24/0"


def test_resuming_after_the_deadline_still_evaluates(make_config, runs_dir, new_recorder) -> None:
    clock = FakeClock()
    cfg = budgeted_config(make_config)
    Trainer(cfg, runs_dir=runs_dir, run_id="d", clock=clock).run(ticking(new_recorder(), clock))
    again = new_recorder()
    result = Trainer(runs_dir=runs_dir, resume="d", clock=FakeClock()).run(again)
    assert result.reason == "completed" and result.step == BUDGET
    assert not again.of(StepCompleted) and [e.step for e in again.of(EvalCompleted)] == [BUDGET]
