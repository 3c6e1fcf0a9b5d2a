"""Fixed run folders for layout tests: the same ids, times, losses and states every time, so
a snapshot of the run browser, compare or sweeps view never depends on the clock or a trainer.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from engine import events as ev
from engine.run.log import RunLog

STARTED = 1_780_000_000.0  # a fixed wall clock (2026-05-28): the browser sorts newest first

# run id, config, losses (one eval every 2 steps), how it ended, tags
RUNS: list[tuple[str, dict, list[float], str, list[str]]] = [
    ("20260528-090000-lstm-small", {"hidden_dim": 32}, [3.0, 2.5, 2.2, 2.0], "completed", []),
    (
        "20260528-091000-gpt-wide",
        {"model": "gpt", "n_layer": 4, "n_head": 4, "n_embd": 128, "learning_rate": 0.003},
        [3.1, 2.4, 1.9, 1.7, 1.55, 1.48],
        "stopped",
        ["lr", "wide"],
    ),
    ("20260528-092000-lstm-died", {"hidden_dim": 64}, [3.0, 2.8], "", []),
    ("20260528-093000-lstm-nan", {"learning_rate": 0.5}, [3.0, 9.9], "failed", ["[red]x[/red]"]),
]


def write_run(
    runs: Path, name: str, config: dict, losses: list[float], end: str, index: int
) -> Path:
    """One run folder from scripted events; ``end`` is a RunFinished reason, "failed", or ""
    (no terminal event and no lock: an interrupted run)."""
    folder = runs / name
    cfg = {"model": "lstm", "learning_rate": 0.01, "hidden_dim": 32, **config}
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    started = STARTED + 600 * index
    log = RunLog(folder / "events.jsonl")
    total = 2 * len(losses)
    log(ev.RunStarted(name, cfg, 1, "cpu", "f32", total, 9, 9, 9, 9, time=started))
    for step, loss in enumerate(losses, start=1):
        at = started + step
        log(ev.StepCompleted(step, 0, loss, 0.01, 100.0, 0.5, 0.1 * step, total, time=at))
        if step % 2 == 0:
            log(ev.EvalCompleted(step, 0, loss, loss + 0.1, 2.0, 1.5, loss + 0.1, True, time=at))
    done = started + len(losses) + 1
    if end == "failed":
        log(ev.RunFailed("The loss became NaN at step 2.", len(losses), time=done))
    elif end:
        log(ev.RunFinished(end, len(losses), min(losses) + 0.1, 1.0, time=done))
    log.close()
    meta = {"tags": RUNS[index][4]} if RUNS[index][4] else {}
    if meta:
        (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def fixed_runs(root: Path) -> Path:
    """``root/runs`` with the runs of :data:`RUNS`; returns the runs folder."""
    runs = root / "runs"
    for index, (name, config, losses, end, _tags) in enumerate(RUNS):
        write_run(runs, name, config, losses, end, index)
    return runs


def fixed_sweep(runs: Path, corpus: Path) -> None:
    """A sweep "lr" over the runs folder's study file: three finished trials with fixed start
    and end times (a complete, a pruned and a failed one), linked to the runs of RUNS."""
    from datetime import datetime, timedelta

    from optuna.distributions import FloatDistribution
    from optuna.trial import FrozenTrial, TrialState

    from engine.experiments.sweep import default_storage, open_study
    from engine.experiments.sweep_space import parse_space

    space = parse_space(
        {"name": "lr", "method": "random", "n_trials": 3, "set": {"data_file": str(corpus)},
         "fields": {"learning_rate": {"low": 0.001, "high": 0.1, "log": True}}}
    )  # fmt: skip
    study = open_study(space, default_storage(runs))
    begin = datetime(2026, 5, 28, 9, 0, 0)
    ends = [(TrialState.COMPLETE, 2.1), (TrialState.PRUNED, None), (TrialState.FAIL, None)]
    for number, (state, value) in enumerate(ends):
        study.add_trial(
            FrozenTrial(
                number=number,
                state=state,
                value=value,
                datetime_start=begin + timedelta(minutes=10 * number),
                datetime_complete=begin + timedelta(minutes=10 * number, seconds=95),
                params={"learning_rate": [0.01, 0.003, 0.5][number]},
                distributions={"learning_rate": FloatDistribution(0.001, 1.0, log=True)},
                user_attrs={"run_id": RUNS[[0, 1, 3][number]][0]},
                system_attrs={},
                intermediate_values={},
                trial_id=number,
            )
        )


def screen_text(app) -> str:
    """What the terminal shows now, as plain text (colours dropped)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()
