"""CPU thread count chosen by timing real training steps, and timed again when speed drifts.

On a shared machine one thread per core is not always fastest: a thread waiting for a busy
core stalls the others at every barrier. :class:`ThreadTuner` times training steps at 1..N
threads, there and back (1, 2, 2, 1) so a steady drift cancels, keeps the fastest (fewer when
within 5%), and probes again when the step time drifts by a third or, with fewer threads than
cores, now and then: a competitor leaving does not change a one-thread step's time
(docs/LOG.md, 2026-11-30 and 2026-12-01).
"""

from __future__ import annotations

import math
import os
import statistics
from collections import deque
from collections.abc import Callable
from typing import Any

# Steps per block of a probe: the first after a change of count is not timed (pool warm-up).
PROBE_STEPS = 4
TIE = 1.05  # fewer threads win when within 5%: they leave a core to the rest of the machine
ABORT = 2.0  # a candidate whose step (even its first) takes 2x the best so far is dropped
DRIFT = 1.33  # re-probe when the recent median step time moves by a third, either way
DRIFT_WINDOW = 10
MIN_REPROBE_S = 60.0
RECHECK_MAX_S = 300.0  # fewer threads than cores: measure again at most this long after
SETTLE_STEPS = 3  # untimed steps after a restart: the first compiled steps run slower


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class ThreadTuner:
    """Pick the thread count from measured step times; call around every training step.

    Args:
        set_threads: applies a thread count (``torch.set_num_threads``).
        max_threads: the largest count tried (the usable cores).
        clock: seconds, for the re-probe rate limit (the run's clock).
    """

    def __init__(
        self, set_threads: Callable[[int], None], max_threads: int, clock: Callable[[], float]
    ) -> None:
        self._set = set_threads
        self._clock = clock
        self.candidates = list(range(1, max(1, max_threads) + 1))
        self.chosen = self.candidates[-1]
        self._times: dict[int, list[float]] = {}
        self._probing: list[int] = []  # the counts still to time, one block each, in order
        self._block_steps = 0  # steps taken in the current block
        self._dropped: set[int] = set()  # counts found hopeless in the current probe
        self._in_use = self.chosen  # torch starts with one thread per core
        self._fresh = False  # the count changed before this step: the pool wakes up
        self._settle = 0
        self._recent: deque[float] = deque(maxlen=DRIFT_WINDOW)
        self._reference = 0.0
        self._last_probe = -MIN_REPROBE_S
        self._recheck_s = MIN_REPROBE_S  # the wait before a check with fewer threads than cores
        self._why = ""  # why the probe under way started, for its notice
        self.probes = 0
        if len(self.candidates) > 1:
            self._start_probe()

    @property
    def probing(self) -> bool:
        return bool(self._probing)

    @property
    def in_use(self) -> int:
        """The thread count the next step runs with."""
        return self._in_use

    def state_dict(self) -> dict[str, Any]:
        """Everything that decides the counts of the coming steps, for a checkpoint: a
        resumed run continues the same probe, or keeps the same choice, at the same steps
        (the count changes a step's float sums, so resuming with another one is not exact).
        """
        return {
            "candidates": list(self.candidates),
            "chosen": self.chosen,
            "in_use": self._in_use,
            "probing": list(self._probing),
            "block_steps": self._block_steps,
            "times": [[n, list(times)] for n, times in self._times.items()],
            "dropped": sorted(self._dropped),
            "settle": self._settle,
            "recent": list(self._recent),
            "reference": self._reference,
            "since_probe_s": self._clock() - self._last_probe,
            "recheck_s": self._recheck_s,
            "why": self._why,
            "probes": self.probes,
        }

    def restore(self, state: Any) -> bool:
        """Continue from a checkpoint's :meth:`state_dict`, applying its thread count now,
        before the first step. False, leaving a fresh probe, when ``state`` is unusable or
        was measured with other candidate counts (another machine: its timings say nothing
        here, and exactness is lost anyway).
        """
        try:
            parsed = _parse_state(state)
        except (TypeError, ValueError, KeyError):
            return False
        if parsed["candidates"] != self.candidates:
            return False
        self.chosen, self._probing = parsed["chosen"], parsed["probing"]
        self._block_steps, self._times = parsed["block_steps"], parsed["times"]
        self._dropped, self._settle = parsed["dropped"], parsed["settle"]
        self._recent = deque(parsed["recent"], maxlen=DRIFT_WINDOW)
        self._reference, self._recheck_s = parsed["reference"], parsed["recheck_s"]
        self._last_probe = self._clock() - parsed["since_probe_s"]
        self._why, self.probes = parsed["why"], parsed["probes"]
        self._set(parsed["in_use"])
        # A new process's thread pool starts cold: its first step is not timed.
        self._in_use, self._fresh = parsed["in_use"], True
        return True

    def restart(self) -> None:
        """Measure afresh (the step itself changed, e.g. it is now compiled), after
        SETTLE_STEPS untimed steps."""
        if len(self.candidates) > 1:
            self._start_probe()
            self.probes = 1
            self._settle = SETTLE_STEPS

    def untimed_step(self) -> str | None:
        """Count a step whose time says nothing about the thread count (a resumed run's
        first step, which compiles again what the saved run had compiled): a probe moves on
        at the same step as in the run that saved it, and nothing is measured."""
        if not (self._settle > 0 or self._probing):
            return None  # settled: the drift window keeps timed steps only
        self._fresh = True  # so after_step does not record it (nor find it hopeless at 0 s)
        return self.after_step(0.0)

    def _start_probe(self, why: str = "") -> None:
        self._why = why
        self._probing = self.candidates + self.candidates[::-1]  # there and back
        self._times = {n: [] for n in self.candidates}
        self._dropped = set()
        self._last_probe = self._clock()
        self.probes += 1
        self._begin_block()

    def _begin_block(self) -> None:
        self._block_steps = 0
        self._use(self._probing[0])

    def _use(self, n: int) -> None:
        self._set(n)
        if n != self._in_use:
            self._in_use, self._fresh = n, True

    def after_step(self, seconds: float) -> str | None:
        """Record a step's time; returns a notice when a probe ends with a choice."""
        fresh, self._fresh = self._fresh, False
        if self._settle > 0:
            self._settle -= 1
            return None
        if self._probing:
            return self._probe_step(seconds, fresh)
        self._recent.append(seconds)
        if len(self._recent) == DRIFT_WINDOW and self._reference > 0:
            ratio = statistics.median(self._recent) / self._reference
            drifted = ratio > DRIFT or ratio < 1 / DRIFT
            if drifted and self._clock() - self._last_probe >= MIN_REPROBE_S:
                self._start_probe("step time drifted")
                return None
        fewer = self.chosen < self.candidates[-1]
        if fewer and self._clock() - self._last_probe >= self._recheck_s:
            self._start_probe("check")  # has a core come free?
        return None

    def _probe_step(self, seconds: float, fresh: bool) -> str | None:
        current = self._probing[0]
        self._block_steps += 1
        if not fresh:  # the first step after a change of count is not timed
            self._times[current].append(seconds)
        best = min((self._median(n) for n in self.candidates if n != current), default=math.inf)
        # Under contention one step at too many threads can cost 30 normal ones (every
        # parallel op waits for a descheduled thread): stop probing such a count at once,
        # and do not come back to it.
        hopeless = current > 1 and seconds > ABORT * best
        if self._block_steps < PROBE_STEPS and not hopeless:
            return None
        self._probing.pop(0)
        if hopeless:
            self._probing = [n for n in self._probing if n != current]
            self._times[current] = self._times[current] or [seconds]
            self._dropped.add(current)
        if len(self.candidates) - len(self._dropped) <= 1:
            self._probing = []  # one count left: nothing to compare it with
        if self._probing:
            self._begin_block()
            return None
        return self._choose()

    def _median(self, n: int) -> float:
        return statistics.median(self._times.get(n) or [math.inf])

    def _choose(self) -> str | None:
        """Keep the fastest count; a notice, except for a check that changed nothing."""
        medians = {n: self._median(n) for n in self._times}
        best = min(medians.values())
        before, self.chosen = self.chosen, min(n for n, m in medians.items() if m <= best * TIE)
        self._reference = medians[self.chosen]
        self._recent.clear()
        self._use(self.chosen)
        same = self.chosen == before and self.probes > 1
        # A check that confirms the count waits twice as long for the next one.
        self._recheck_s = min(2 * self._recheck_s, RECHECK_MAX_S) if same else MIN_REPROBE_S
        if same and self._why == "check":
            return None
        timings = ", ".join(f"{n}: {m * 1000:.0f} ms" for n, m in medians.items())
        why = self._why
        if why == "check":
            why = "a core came free" if self.chosen > before else "checked again"
        again = f" (re-measured: {why})" if self.probes > 1 else ""
        return f"cpu threads: {self.chosen}, the fastest measured{again} (per step: {timings})"


def _parse_state(state: Any) -> dict[str, Any]:
    """A checkpoint's tuner state with every type checked (it is user input).

    Raises:
        TypeError, ValueError, KeyError: a missing entry, a wrong type, an inconsistency.
    """

    def count(value: Any) -> int:
        if type(value) is not int or not 1 <= value <= 1024:
            raise ValueError(f"not a thread count: {value!r}")
        return value

    def seconds(value: Any) -> float:
        if type(value) not in (int, float) or not 0 <= value < math.inf:
            raise ValueError(f"not a duration: {value!r}")
        return float(value)

    if not isinstance(state, dict):
        raise TypeError("not a mapping")
    candidates = [count(n) for n in state["candidates"]]
    parsed = {
        "candidates": candidates,
        "chosen": count(state["chosen"]),
        "in_use": count(state["in_use"]),
        "probing": [count(n) for n in state["probing"]],
        "block_steps": int(seconds(state["block_steps"])),
        "times": {count(n): [seconds(t) for t in times] for n, times in state["times"]},
        "dropped": {count(n) for n in state["dropped"]},
        "settle": int(seconds(state["settle"])),
        "recent": [seconds(t) for t in state["recent"]][-DRIFT_WINDOW:],
        "reference": seconds(state["reference"]),
        "since_probe_s": seconds(state["since_probe_s"]),
        "recheck_s": seconds(state["recheck_s"]),
        "why": str(state["why"]),
        "probes": int(seconds(state["probes"])),
    }
    for n in candidates:
        parsed["times"].setdefault(n, [])
    used = {parsed["chosen"], parsed["in_use"], *parsed["probing"], *parsed["times"]}
    if not used <= set(candidates):
        raise ValueError("counts outside the candidates")
    return parsed
