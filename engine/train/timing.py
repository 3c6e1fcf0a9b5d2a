"""Everything time-based about one run, for the trainer's loop: the clock and budget
(engine.train.budget), the pace of its steps, deadlines by time, the compile decision
(engine.runtime.compile_policy) and the thread tuner (engine.runtime.threads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.runtime.compile_policy import (
    DECIDE_AFTER,
    DEFAULT_COMPILE_S,
    record_cost,
    recorded_cost,
    worth_compiling,
)
from engine.train.budget import Every, Pace, RunClock, TimeBudget

Agree = Callable[[list[float]], list[float]]


class RunTiming:
    """Everything time-based about one run, for the trainer's loop.

    Owns the :class:`RunClock` (made when the run began), the :class:`TimeBudget` when
    ``time_budget_s`` is set, the :class:`Pace` of training steps and the deadlines for
    evaluations and checkpoints by time. Creating it marks the end of start-up: the time
    this process spent so far counts as overhead.

    Args:
        cfg: the run's config (a RunConfig; duck-typed to keep this module torch-free).
        clock: the run's clock, started when the run began.
        state: the ``timing`` entry of the checkpoint the run resumes from.
        compiled: whether the first training step compiles the model (its time is overhead).
        eval_windows: windows one evaluation scores (to extrapolate its cost).
    """

    def __init__(
        self,
        cfg: Any,
        clock: RunClock,
        state: dict[str, Any] | None,
        *,
        compiled: bool,
        eval_windows: int,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        clock.add_overhead(clock.session_s)
        self.budget = (
            TimeBudget(cfg.time_budget_s, clock, (state or {}).get("budget"))
            if cfg.time_budget_s > 0
            else None
        )
        self.pace = Pace()
        self.threads: Any = None  # an engine.runtime.threads.ThreadTuner when threads are measured
        # With ``compile_switch`` set (CompiledModel.decide), the first steps run eagerly and
        # decide whether compiling pays (engine.runtime.compile_policy); else compile at once.
        self.compile_switch: Callable[[bool], None] | None = None
        self.compile_signature = ""
        self._dtype, self._step, self._total_steps = "float32", 0, 0
        self.compile_pending = compiled
        # The pending compile only rebuilds, in a resumed process, what the saved run had
        # already compiled: its step changes no step's speed, so the thread tuner carries on
        # with its restored state (engine.train.start.restore_numerics) instead of measuring
        # afresh, which moved a compiled run's counts and broke its exact resume.
        self.recompile = False
        self.compile_s: float | None = None
        self.eval_windows = eval_windows
        self._eval_every = Every(cfg.eval_interval_s, clock.active_s)
        self._save_every = Every(cfg.checkpoint_interval_s, clock.active_s)

    def progress(self, step: int) -> float | None:
        """The schedule's clock (0..1) for a budgeted run; None means "count steps"."""
        if self.budget is None:
            return None
        fraction = self.budget.fraction()
        if self.cfg.max_steps > 0:  # a step cap ends the schedule too, whichever is first
            fraction = max(fraction, step / self.cfg.max_steps)
        return min(1.0, fraction)

    def finished(self, step: int, total_steps: int) -> bool:
        if self.budget is None:
            return step >= total_steps
        capped = self.cfg.max_steps > 0 and step >= self.cfg.max_steps
        return capped or self.budget.exhausted()

    def step_done(
        self, seconds: float, tokens: int, step: int = 0, total_steps: int = 0
    ) -> list[tuple[str, str]]:
        """Record the duration of a training step (``step`` of ``total_steps`` when the run
        counts steps); returns notices (kind, message) to publish."""
        self._step, self._total_steps = step, total_steps
        if self.compile_pending:
            self.compile_pending = False
            self.compile_s = seconds
            self.clock.add_overhead(seconds)
            if self.compile_signature:
                record_cost(self.compile_signature, seconds)
            recompile, self.recompile = self.recompile, False
            if self.threads is not None and recompile:
                self.threads.untimed_step()  # as the saved run's step, untimed
            elif self.threads is not None:
                self.threads.restart()  # thread counts timed eagerly say little now
            what = "compiled again after the resume" if recompile else "compiled"
            return [("compiled", f"{what} in {seconds:.1f} s (left out of tokens/s and ETA)")]
        self.pace.add(seconds, tokens)
        notices = []
        if self.threads is not None:
            note = self.threads.after_step(seconds)
            if note is not None:
                self.pace.reset()  # the speed from here on is the chosen count's
                notices.append(("threads", note))
        if self.compile_switch is not None and self.pace.count >= DECIDE_AFTER:
            notices.append(("compile", self._decide_compile()))
        return notices

    def calibration_due(self) -> bool:
        """Time to extrapolate the final evaluation's cost (see :meth:`calibrate`): in a
        budgeted run that has not timed one yet, once the thread count and the compile
        decision are settled (an evaluation timed at the wrong thread count under contention
        can be 10x off), or at half the budget at the latest."""
        budget = self.budget
        if budget is None or budget.reserve_measured or budget.reserve_calibrated:
            return False
        probing = self.threads is not None and self.threads.probing
        settled = not probing and self.compile_switch is None and not self.compile_pending
        return settled or budget.fraction() >= 0.5

    def calibrate(self, time_windows: Callable[[int], float], windows: int = 64) -> None:
        """Time an evaluation of ``windows`` twice (the first warms up) and extrapolate the
        final evaluation's cost; the seconds spent are overhead."""
        assert self.budget is not None
        began = self.clock.now()
        time_windows(windows)
        seconds = time_windows(windows)
        self.clock.add_overhead(self.clock.now() - began)
        self.budget.calibrated(seconds / windows, self.eval_windows)

    def defer_compile(self, switch: Callable[[bool], None], signature: str, dtype: str) -> None:
        """Train eagerly first; compile later only if it pays (see :meth:`step_done`)."""
        self.compile_switch, self.compile_signature, self._dtype = switch, signature, dtype
        self.compile_pending = False

    def _decide_compile(self) -> str:
        switch, self.compile_switch = self.compile_switch, None
        assert switch is not None
        step_s = self.pace.step_s
        if self.budget is not None:
            steps_left = self.budget.training_left_s() / step_s
        else:
            steps_left = max(0, self._total_steps - self._step)
        cost = recorded_cost(self.compile_signature) or DEFAULT_COMPILE_S
        use, note = worth_compiling(steps_left, step_s, cost, self._dtype)
        switch(use)
        if use:
            self.compile_pending = True
            self.pace.reset()  # the compiled speed replaces the eager one
        return note

    def eta_s(self, step: int, total_steps: int) -> float | None:
        """Active seconds left: to the deadline, or the remaining steps at the current pace."""
        if self.budget is not None:
            return self.budget.remaining_s()
        if not self.pace.known:
            return None
        return max(0, total_steps - step) * self.pace.step_s

    def total_steps_estimate(self, step: int, total_steps: int) -> int:
        """The steps a budgeted run will likely reach (its step cap if sooner)."""
        if self.budget is None:
            return total_steps
        if not self.pace.known:
            return max(step, self.cfg.max_steps)
        guess = step + int(self.budget.training_left_s() / self.pace.step_s)
        return min(guess, self.cfg.max_steps) if self.cfg.max_steps > 0 else guess

    def decisions(self, step: int, total_steps: int, agree: Agree) -> tuple[bool, bool, bool]:
        """Finished? Evaluate by time? Save by time? ``agree`` makes every data-parallel
        rank take rank 0's answers (their clocks differ, and evaluation is collective)."""
        flags = [self.finished(step, total_steps), self.eval_due(), self.save_due()]
        done, by_time, save_by_time = agree([float(f) for f in flags])
        return bool(done), bool(by_time), bool(save_by_time)

    def eval_due(self) -> bool:
        """An evaluation by time is due (skipped when the final one is close anyway)."""
        due = self._eval_every.due(self.clock.active_s)
        if due and self.budget is not None:
            return self.budget.training_left_s() > 2 * self.budget.reserve_s
        return due

    def save_due(self) -> bool:
        return self._save_every.due(self.clock.active_s)

    def evaluated(self, seconds: float) -> None:
        """An evaluation (with sample and checkpoints) took ``seconds``."""
        if self.budget is not None:
            self.budget.measured_eval(seconds)

    def state_dict(self) -> dict[str, Any]:
        return {
            "clock": self.clock.state_dict(),
            "budget": self.budget.state_dict() if self.budget is not None else {},
        }
