"""Sweeps in-process on a tiny config: grid covers every point once, TPE with pruning, results,
the best config as a preset, and search spaces that are refused with every problem named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.config.fields import ConfigError
from engine.experiments.records import read_meta, tags_of
from engine.experiments.sweep import Worker, default_storage, open_study, results, save_best_preset
from engine.experiments.sweep_space import grid_points, parse_space
from engine.run.summary import list_runs


@pytest.fixture
def fixed(make_config: Callable[..., Any]) -> Callable[..., dict[str, Any]]:
    """``fixed(**changes)``: a whole tiny config (the root conftest's) as a space's [set]."""
    return lambda **changes: make_config(**changes).model_dump()


def space_dict(fixed: Callable[..., dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data = fixed(max_steps=16, eval_interval=4)
    return {"name": "s", "set": data, "pruner": {"kind": "none"}, **extra}


def test_grid_sweep_runs_each_point_once_as_tagged_run_folders(
    fixed: Callable[..., dict[str, Any]], runs_dir: Path
) -> None:
    space = parse_space(
        space_dict(
            fixed, method="grid", fields={"learning_rate": [0.01, 0.003], "hidden_dim": [16, 32]}
        )
    )
    assert space.n_trials == 4
    study = open_study(space, default_storage(runs_dir))
    seen: list[int] = []
    assert Worker(space, study, runs_dir, on_trial=lambda r: seen.append(r.number)).run() == 4
    rows = results(study)
    assert [r.state for r in rows] == ["complete"] * 4 and seen == [0, 1, 2, 3]
    params = sorted(json.dumps(r.params, sort_keys=True) for r in rows)
    assert params == sorted(json.dumps(p, sort_keys=True) for p in grid_points(space))
    # Each trial is a normal run folder, tagged with the sweep and its trial number.
    runs = {s.run_id: s for s in list_runs(runs_dir)}
    assert set(runs) == {f"s-t00{i}" for i in range(4)}
    assert all(s.state == "finished" for s in runs.values())
    assert tags_of(runs_dir / "s-t002") == ["s", "trial-2"]
    assert read_meta(runs_dir / "s-t002")["sweep"]["state"] == "complete"
    best = min(rows, key=lambda r: r.value)
    assert best.value == pytest.approx(runs[best.run_id].best_val_loss)
    # Running the sweep again does nothing: the study is full.
    assert Worker(space, open_study(space, default_storage(runs_dir)), runs_dir).run() == 0


def test_tpe_with_median_pruning_marks_pruned_trials_pruned(
    fixed: Callable[..., dict[str, Any]],
    runs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    data = space_dict(
        fixed,
        method="tpe",
        n_trials=6,
        seed=3,
        fields={"learning_rate": {"low": 1e-4, "high": 3e-2, "log": True}},
        pruner={"kind": "median", "startup_trials": 1},
    )
    space = parse_space(data)
    study = open_study(space, default_storage(runs_dir))
    Worker(space, study, runs_dir).run()
    rows = results(study)
    states = [r.state for r in rows]
    assert len(rows) == 6 and set(states) <= {"complete", "pruned"}
    assert "failed" not in states
    lrs = [r.params["learning_rate"] for r in rows]
    assert all(1e-4 <= lr <= 3e-2 for lr in lrs) and len(set(lrs)) == 6
    for row in rows:
        if row.state == "pruned":  # stopped early: fewer steps than the budget, not failed
            summary = next(s for s in list_runs(runs_dir) if s.run_id == row.run_id)
            assert summary.state == "stopped" and summary.step < 16
            assert read_meta(summary.path)["sweep"]["state"] == "pruned"
    monkeypatch.setenv("LLMV0_CONFIG_DIR", str(tmp_path / "config"))
    path = save_best_preset(study, "lr-best")
    assert path == tmp_path / "config" / "presets" / "lr-best.json"
    best = min((r for r in rows if r.state == "complete"), key=lambda r: r.value)
    assert json.loads(path.read_text())["learning_rate"] == pytest.approx(
        best.params["learning_rate"]
    )


def test_pruning_reports_each_evaluation(
    fixed: Callable[..., dict[str, Any]], runs_dir: Path
) -> None:
    """With a pruner that always prunes after warm-up, the trial ends early and is PRUNED."""
    import optuna

    data = space_dict(fixed, method="random", n_trials=1, fields={"hidden_dim": [16]})
    space = parse_space(data)
    study = open_study(space, default_storage(runs_dir))
    study.pruner = optuna.pruners.ThresholdPruner(upper=0.0)  # every loss is above 0
    Worker(space, study, runs_dir).run()
    (trial,) = study.trials
    assert trial.state.name == "PRUNED" and list(trial.intermediate_values) == [4]
    assert results(study)[0].state == "pruned"


def test_bad_space_names_every_problem(corpus: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_space(
            {
                "name": "bad name!",
                "method": "bayes",
                "set": {"data_file": str(corpus)},
                "fields": {
                    "learnin_rate": [0.1],
                    "dropout": {"low": 0.0, "high": 2.0},
                    "hidden_dim": {"low": 8, "high": 4},
                },
            }
        )
    problems = info.value.problems
    assert {"name", "method", "fields.learnin_rate", "fields.dropout", "fields.hidden_dim"} <= set(
        problems
    )


def test_grid_needs_a_step_for_float_ranges(fixed: Callable[..., dict[str, Any]]) -> None:
    data = space_dict(fixed, method="grid", fields={"dropout": {"low": 0.0, "high": 0.2}})
    with pytest.raises(ConfigError, match="step"):
        parse_space(data)
    data["fields"]["dropout"]["step"] = 0.1
    assert parse_space(data).grid() == {"dropout": [0.0, 0.1, 0.2]}


def test_a_trial_stopped_by_the_user_is_recorded_stopped_not_failed(
    fixed: Callable[..., dict[str, Any]], runs_dir: Path
) -> None:
    """The dashboard's stop on an attached trial (a command in its run folder) ends that trial
    as PRUNED with 'stopped', and the sweep goes on to the next trial."""
    import threading
    import time

    from engine.run.commands_file import send_command
    from engine.run.log import read_events

    data = space_dict(fixed, method="grid", fields={"hidden_dim": [16, 32]})
    data["set"]["max_steps"] = 5000  # long enough to be stopped from outside
    data["set"]["eval_interval"] = 10
    space = parse_space(data)
    study = open_study(space, default_storage(runs_dir))
    first = runs_dir / "s-t000"

    def stop_first_trial() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log = first / "events.jsonl"
            if log.exists() and any(e.type == "EvalCompleted" for e in read_events(log)):
                send_command(first, "stop")
                return
            time.sleep(0.02)

    stopper = threading.Thread(target=stop_first_trial)
    stopper.start()
    try:
        worker = Worker(space, study, runs_dir, on_trial=lambda row: worker.stop())
        assert worker.run() == 1  # stopping the sweep after that trial starts no other
    finally:
        stopper.join()
    rows = results(study)
    assert rows[0].state == "stopped" and study.trials[0].state.name == "PRUNED"
    assert read_meta(first)["sweep"]["state"] == "stopped"


def test_stopping_the_sweep_queues_the_trial_again_and_resume_runs_it(
    fixed: Callable[..., dict[str, Any]], runs_dir: Path
) -> None:
    """Ctrl-C on `llmv0 sweep` (Worker.stop): the trial in progress is interrupted, not
    counted, and its settings run first when the sweep continues."""
    space = parse_space(space_dict(fixed, method="grid", fields={"hidden_dim": [16, 32]}))
    study = open_study(space, default_storage(runs_dir))
    worker = Worker(space, study, runs_dir, on_start=lambda number, run_id: worker.stop())
    assert worker.run() == 1
    first = results(study)
    assert [r.state for r in first] == ["interrupted", "queued"]
    assert first[1].params == first[0].params
    Worker(space, open_study(space, default_storage(runs_dir)), runs_dir).run()
    rows = results(study)
    assert [r.state for r in rows] == ["interrupted", "complete", "complete"]
    assert rows[1].params == rows[0].params
    assert {r.params["hidden_dim"] for r in rows[1:]} == {16, 32}


def test_a_trial_past_the_budget_is_handed_back_unrun_and_hidden(
    fixed: Callable[..., dict[str, Any]], runs_dir: Path
) -> None:
    """Two workers raced for the last slot: the later trial number trains nothing."""
    import os
    import socket

    from optuna.trial import TrialState

    from engine.experiments.sweep import TrialFailedError

    space = parse_space(space_dict(fixed, method="random", n_trials=1, fields={"hidden_dim": [16]}))
    study = open_study(space, default_storage(runs_dir))
    other = study.ask()  # the other worker's trial, still running (a live pid on this host)
    other.set_user_attr("host", socket.gethostname())
    other.set_user_attr("pid", os.getpid())
    late = study.ask()
    with pytest.raises(TrialFailedError, match="surplus"):
        Worker(space, study, runs_dir)._objective(late)
    study.tell(late, state=TrialState.FAIL)
    assert [r.number for r in results(study)] == [0]  # the surplus trial is not listed
    assert not any(runs_dir.glob("s-t001*")), "no run folder for it"
    assert Worker(space, study, runs_dir).run() == 0  # the budget is used up


def _ask_alternately(space: Any, storage: str, n: int, workers: int) -> list[dict[str, Any]]:
    """``workers`` studies opened on one storage (each with its own sampler, as separate worker
    processes have) take turns asking for a trial; the parameter sets in trial order."""
    studies = [open_study(space, storage) for _ in range(workers)]
    probe = Worker(space, studies[0], Path("unused"))
    for i in range(n):
        study = studies[i % workers]
        trial = study.ask()
        params = {d.name: probe._suggest(trial, d) for d in space.dimensions}
        study.tell(trial, float(params.get("learning_rate", 0.0)))  # a value TPE can use
    return [t.params for t in studies[0].get_trials(deepcopy=False)]


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_two_workers_on_one_study_draw_distinct_settings(
    fixed: Callable[..., dict[str, Any]], runs_dir: Path, method: str
) -> None:
    """Two workers' samplers never repeat each other (each used to start from space.seed, so
    worker B's first trial had worker A's first trial's settings)."""
    fields = {"learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}, "hidden_dim": [16, 32]}
    space = parse_space(space_dict(fixed, method=method, n_trials=6, seed=5, fields=fields))
    params = _ask_alternately(space, default_storage(runs_dir), n=6, workers=2)
    assert len({json.dumps(p, sort_keys=True) for p in params}) == 6


def test_a_grid_is_shared_by_workers_and_never_repeated(
    fixed: Callable[..., dict[str, Any]], runs_dir: Path
) -> None:
    fields = {"learning_rate": [0.01, 0.003, 0.001], "hidden_dim": [16, 32]}
    space = parse_space(space_dict(fixed, method="grid", seed=5, fields=fields))
    params = _ask_alternately(space, default_storage(runs_dir), n=6, workers=3)
    assert sorted(json.dumps(p, sort_keys=True) for p in params) == sorted(
        json.dumps(p, sort_keys=True) for p in grid_points(space)
    )


@pytest.mark.parametrize("method", ["random", "tpe", "grid"])
def test_one_worker_with_a_fixed_seed_is_reproducible(
    fixed: Callable[..., dict[str, Any]], tmp_path: Path, method: str
) -> None:
    fields = {"learning_rate": [0.01, 0.003, 0.001], "hidden_dim": [16, 32]}
    if method != "grid":
        fields["learning_rate"] = {"low": 1e-3, "high": 1e-2, "log": True}
    space = parse_space(space_dict(fixed, method=method, n_trials=6, seed=11, fields=fields))
    first = _ask_alternately(space, default_storage(tmp_path / "a"), n=6, workers=1)
    again = _ask_alternately(space, default_storage(tmp_path / "b"), n=6, workers=1)
    assert first == again
    other = parse_space(space_dict(fixed, method=method, n_trials=6, seed=12, fields=fields))
    assert _ask_alternately(other, default_storage(tmp_path / "c"), n=6, workers=1) != first
