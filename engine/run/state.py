"""One vocabulary of run states, and the one place that turns a run's events into a state.

The status line, the run browser and ``llmv0 runs`` all name a run's state with
:class:`RunState` and derive it with :func:`next_state` / :func:`history_state`, so they
cannot disagree (a run stopped with x is "stopped" everywhere; a paused run is "paused").
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from engine.events import Event, RunFailed, RunFinished, RunPaused, RunResumed, RunStarted


class RunState(StrEnum):
    """What a run is doing or how it ended. Members compare equal to their text."""

    IDLE = "idle"  # the dashboard has no run yet
    STARTING = "starting"  # asked to start, no RunStarted yet
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"  # asked to stop, saving its checkpoint
    FINISHED = "finished"  # completed, or ended by early stopping
    STOPPED = "stopped"  # stopped by its user; resumable
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process died without a terminal event; resumable
    OPENED = "opened"  # shown from its folder while another process trains it
    DETACHED = "detached"  # was followed (attach); the other process trains on
    UNKNOWN = "unknown"  # a folder whose log holds no run yet


ACTIVE = frozenset({RunState.STARTING, RunState.RUNNING, RunState.PAUSED, RunState.STOPPING})
"""A run trained here is going: the dashboard refuses to start another."""

LIVE = frozenset({RunState.RUNNING, RunState.PAUSED})
"""A run folder's trainer is alive (it can be attached)."""

RESUMABLE = frozenset({RunState.INTERRUPTED, RunState.STOPPED, RunState.FAILED})


def end_state(event: RunFinished | RunFailed) -> RunState:
    """The state a terminal event leaves its run in."""
    if isinstance(event, RunFailed):
        return RunState.FAILED
    return RunState.STOPPED if event.reason == "stopped" else RunState.FINISHED


def next_state(state: RunState | str, event: Event) -> RunState:
    """The state after ``event`` (events that do not change the state keep it)."""
    if isinstance(event, RunStarted | RunResumed):
        return RunState.RUNNING
    if isinstance(event, RunPaused):
        return RunState.PAUSED
    if isinstance(event, RunFinished | RunFailed):
        return end_state(event)
    return RunState(state)


def history_state(events: Iterable[Event], alive: bool) -> RunState:
    """The state of a run from its whole history; ``alive``: its trainer still holds the
    run folder's lock (a live state without it means the process died)."""
    state = RunState.UNKNOWN
    for event in events:
        state = next_state(state, event)
    if state in LIVE and not alive:
        return RunState.INTERRUPTED
    return state


def shown_state(state: RunState | str) -> RunState:
    """The state a dashboard shows for a run it opened from its folder: a live run is
    "opened" (shown, not trained or followed here; attaching follows it)."""
    return RunState.OPENED if state in LIVE else RunState(state)
