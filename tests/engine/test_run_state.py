"""One vocabulary of run states: the browser, `llmv0 runs` and the status line agree."""

from __future__ import annotations

from pathlib import Path

from engine.control import Control
from engine.events import Event, RunFinished, RunPaused, StepCompleted
from engine.run.state import RunState, end_state, history_state, next_state
from engine.run.summary import list_runs
from engine.train.trainer import Trainer


def test_a_paused_run_is_listed_as_paused(make_config, runs_dir: Path) -> None:
    control = Control()
    seen: list[Event] = []

    def pause_then_stop(event: Event) -> None:
        seen.append(event)
        if isinstance(event, StepCompleted) and event.step == 2:
            control.pause()
        elif isinstance(event, RunPaused):
            # While paused, its lock is live: what does the runs list say?
            [summary] = list_runs(runs_dir)
            seen_states.append(summary.state)
            control.stop()

    seen_states: list[RunState] = []
    Trainer(make_config(max_steps=20), runs_dir=runs_dir, run_id="p").run(pause_then_stop, control)
    assert seen_states == ["paused"]
    [summary] = list_runs(runs_dir)
    assert summary.state == RunState.STOPPED


def test_one_transition_function_names_every_end() -> None:
    stopped = RunFinished(reason="stopped", step=3, best_val_loss=1.0, elapsed_s=1.0)
    done = RunFinished(reason="completed", step=9, best_val_loss=1.0, elapsed_s=1.0)
    assert end_state(stopped) == next_state(RunState.RUNNING, stopped) == "stopped"
    assert end_state(done) == "finished"
    assert next_state(RunState.RUNNING, RunPaused(step=2)) == "paused"


def test_a_live_state_without_the_lock_is_interrupted() -> None:
    paused = [RunPaused(step=2)]
    assert history_state(paused, alive=False) == "interrupted"
    assert history_state(paused, alive=True) == "paused"
    assert history_state([], alive=False) == "unknown"
