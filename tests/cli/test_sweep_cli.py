"""``llmv0 sweep`` and ``llmv0 sweep-results`` through the CLI: a tiny grid, the results table,
the best config as a preset, and bad input as one paragraph with exit code 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.experiments.sweep_space import load_space
from tui.cli.main import app

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def fixed(make_config: Callable[..., Any]) -> Callable[..., dict[str, Any]]:
    """``fixed(**changes)``: a whole tiny config (the root conftest's) as a space's [set]."""
    return lambda **changes: make_config(**changes).model_dump()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_sweep_then_results_then_best_preset(
    fixed: Callable[..., dict[str, Any]],
    runs_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    space = tmp_path / "space.json"
    space.write_text(
        json.dumps({"name": "cli", "method": "grid", "set": fixed(max_steps=10, eval_interval=5),
                    "fields": {"learning_rate": [0.01, 0.001]}})
    )  # fmt: skip
    ran = invoke("sweep", str(space), "--runs-dir", str(runs_dir))
    assert ran.exit_code == 0, ran.output
    assert "trial 0 complete" in ran.stdout and "trial 1 complete" in ran.stdout
    shown = invoke("sweep-results", "cli", "--runs-dir", str(runs_dir))
    assert shown.exit_code == 0
    assert "learning_rate=0.01" in shown.stdout and "learning_rate=0.001" in shown.stdout
    assert shown.stdout.count("complete") == 2 and "cli-t001" in shown.stdout
    monkeypatch.setenv("LLMV0_CONFIG_DIR", str(tmp_path / "config"))
    shipped = sorted(p.relative_to(CONFIGS) for p in CONFIGS.rglob("*"))
    saved = invoke(
        "sweep-results", "cli", "--save-best-preset", "best", "--runs-dir", str(runs_dir)
    )
    assert saved.exit_code == 0, saved.output
    path = tmp_path / "config" / "presets" / "best.json"
    assert str(path) in saved.stdout  # the full path, in one piece
    assert json.loads(path.read_text())["learning_rate"] == 0.01  # learns faster in 10 steps
    # --config finds it by name, and nothing was written into the source tree's configs/.
    from engine.config.schema import load_config

    assert load_config("best").learning_rate == 0.01
    trained = invoke("train", "--config", "best", "--max-steps", "2", "--no-samples",
                     "--run-id", "from-preset", "--runs-dir", str(runs_dir))  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert sorted(p.relative_to(CONFIGS) for p in CONFIGS.rglob("*")) == shipped
    missing = invoke("sweep-results", "nope", "--runs-dir", str(runs_dir))
    assert missing.exit_code == 2 and "cli" in missing.stderr


def test_sweep_results_json_shape_and_preset_names(
    fixed: Callable[..., dict[str, Any]], runs_dir: Path, tmp_path: Path
) -> None:
    """``sweep-results --json``: one document with the shape docs/experiments.md shows, numbers
    as numbers at full precision, no colour; a preset name that is not plain, or that a
    shipped preset has, is one paragraph and exit 2."""
    space = tmp_path / "space.json"
    space.write_text(
        json.dumps({"name": "js", "method": "grid", "set": fixed(max_steps=10, eval_interval=5),
                    "fields": {"learning_rate": [0.01, 0.001], "hidden_dim": [16]}})
    )  # fmt: skip
    assert invoke("sweep", str(space), "--runs-dir", str(runs_dir), "--quiet").exit_code == 0
    shown = invoke("sweep-results", "js", "--json", "--runs-dir", str(runs_dir))
    assert shown.exit_code == 0, shown.output
    assert "\x1b[" not in shown.stdout
    doc = json.loads(shown.stdout)
    assert set(doc) == {
        *("sweep", "storage", "method", "n_trials", "fields", "objective", "direction"),
        *("best_trial", "trials"),
    }
    assert doc["sweep"] == "js" and doc["method"] == "grid" and doc["n_trials"] == 2
    assert doc["fields"] == ["learning_rate", "hidden_dim"]
    assert (doc["objective"], doc["direction"]) == ("best_val_loss", "minimize")
    assert doc["storage"] == f"sqlite:///{(runs_dir / 'sweeps.db').resolve()}"
    trials = doc["trials"]
    assert [t["number"] for t in trials] == [0, 1]
    for t in trials:
        assert set(t) == {"number", "state", "params", "value", "duration_s", "run_id", "error"}
        assert t["state"] == "complete" and t["error"] is None
        assert isinstance(t["value"], float) and isinstance(t["duration_s"], float)
        assert t["run_id"] == f"js-t{t['number']:03d}"
        assert isinstance(t["params"]["learning_rate"], float) and t["params"]["hidden_dim"] == 16
    best = min(trials, key=lambda t: t["value"])
    assert doc["best_trial"] == best["number"]
    from engine.run.summary import list_runs

    # Full precision: the same float the run folder holds, not a rounded "2.4885".
    losses = {r.run_id: r.best_val_loss for r in list_runs(runs_dir)}
    assert best["value"] == losses[best["run_id"]]

    saved = invoke("sweep-results", "js", "--json", "--save-best-preset", "js-best",
                   "--runs-dir", str(runs_dir))  # fmt: skip
    preset = json.loads(saved.stdout)["preset"]
    assert preset == {"name": "js-best", "path": str(tmp_path / "config/presets/js-best.json")}

    for name, why in (("gpt-cpu", "ships with llmv0"), ("../x", "plain name"), ("a.b", "plain")):
        refused = invoke("sweep-results", "js", "--save-best-preset", name, "--runs-dir",
                         str(runs_dir))  # fmt: skip
        assert refused.exit_code == 2 and why in " ".join(refused.stderr.split())
        assert "Traceback" not in refused.output
    assert not (CONFIGS / "x.json").exists() and not (tmp_path / "config/x.json").exists()


def test_bad_space_file_lists_every_problem(tmp_path: Path, runs_dir: Path) -> None:
    space = tmp_path / "bad.toml"
    space.write_text('name = "x"\nmethod = "bayes"\n[fields]\nlr = [1]\n', encoding="utf-8")
    result = invoke("sweep", str(space), "--runs-dir", str(runs_dir))
    assert result.exit_code == 2
    assert "method" in result.stderr and "fields.lr" in result.stderr
    assert "Traceback" not in result.output
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ", encoding="utf-8")
    assert invoke("sweep", str(broken), "--runs-dir", str(runs_dir)).exit_code == 2


def test_a_fifo_as_the_space_file_is_refused_at_once(tmp_path: Path) -> None:
    """Hostile round 3: `llmv0 sweep FIFO.toml` printed nothing for 20 s (a blocked read)."""
    import os

    fifo = tmp_path / "space.toml"
    os.mkfifo(fifo)
    result = invoke("sweep", str(fifo), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    assert "named pipe" in result.stderr
    assert "Traceback" not in result.output


def test_more_jobs_than_cores_needs_force(tmp_path: Path) -> None:
    """Each job is a trainer process: a typo such as --jobs 1000 must not start a thousand."""
    space = tmp_path / "space.toml"
    space.write_text('name = "x"\n[fields]\nlearning_rate = [0.001]\n', encoding="utf-8")
    result = invoke("sweep", str(space), "--jobs", "1000", "--runs-dir", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "--jobs 1000 is more than" in " ".join(result.stderr.split())
    assert "--force" in result.stderr
    assert not (tmp_path / "r").exists()


def test_unreachable_storage_is_one_paragraph_without_the_password(
    corpus: Path, tmp_path: Path, runs_dir: Path
) -> None:
    pytest.importorskip("psycopg")  # the postgres extra's driver
    space = tmp_path / "s.json"
    space.write_text(
        json.dumps({"name": "s", "set": {"data_file": str(corpus)}, "n_trials": 1,
                    "fields": {"hidden_dim": [16]}})
    )  # fmt: skip
    url = "postgresql://me:secret@127.0.0.1:1/db"
    result = invoke("sweep", str(space), "--storage", url, "--runs-dir", str(runs_dir))
    assert result.exit_code == 2 and "Cannot open storage" in result.stderr
    assert "secret" not in result.output


def test_shipped_sweep_files_are_valid() -> None:
    folder = Path(__file__).resolve().parents[2] / "configs" / "sweeps"
    files = sorted(folder.glob("*.toml"))
    assert files
    for path in files:
        assert load_space(path).n_trials >= 1


def test_jobs_runs_worker_processes_on_one_study_with_distinct_settings(
    fixed: Callable[..., dict[str, Any]],
    runs_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--jobs 2 starts one more worker process; together they run exactly n_trials, and no
    two trials share their settings (both workers once drew the same random sequence)."""
    from engine.experiments.sweep import default_storage, load_study, results

    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", str(root))  # the helper process imports this checkout
    space = tmp_path / "space.json"
    space.write_text(
        json.dumps({"name": "jobs", "method": "random", "n_trials": 6,
                    "set": fixed(max_steps=30, eval_interval=10),
                    "pruner": {"kind": "none"},
                    "fields": {"learning_rate": {"low": 1e-3, "high": 1e-2, "log": True},
                               "hidden_dim": [16, 32]}})
    )  # fmt: skip
    ran = invoke("sweep", str(space), "--jobs", "2", "--runs-dir", str(runs_dir))
    assert ran.exit_code == 0, ran.output
    study = load_study("jobs", default_storage(runs_dir))
    rows = results(study)
    assert [r.state for r in rows] == ["complete"] * 6
    assert len({r.run_id for r in rows}) == 6
    settings = {json.dumps(r.params, sort_keys=True) for r in rows}
    # Failed (5 distinct) before each trial's sampler had its own seed. Whether the helper
    # starts in time to take trials depends on the machine's load, so the interleaving itself
    # is tested without processes in tests/engine/test_sweep.py.
    assert len(settings) == 6, [r.params for r in rows]


def test_sweep_names_the_sweep_extra_when_optuna_is_missing(
    tmp_path: Path, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name.split(".")[0] == "optuna" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    space = tmp_path / "s.json"
    space.write_text("{}")
    for args in (["sweep", str(space)], ["sweep-results", "any"]):
        result = invoke(*args, "--runs-dir", str(runs_dir))
        assert result.exit_code == 2
        assert "pip install 'llmv0[sweep]'" in " ".join(result.stderr.split())
