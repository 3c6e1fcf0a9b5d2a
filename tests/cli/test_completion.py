"""Shell completion that knows the project, asked the way bash asks it: the console script's
module run with ``_LLMV0_COMPLETE=complete_bash``, ``COMP_WORDS`` and ``COMP_CWORD``."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config.files import list_presets
from engine.config.schema import LIVE_FIELDS, RunConfig
from engine.experiments.records import METRICS
from tui.cli.completion import sweep_names
from tui.cli.inspect import VIEWS

pytestmark = pytest.mark.slow  # each case starts a Python process


def make_run(runs_dir: Path, name: str, started: float, model: str = "lstm") -> None:
    """A run folder whose event log starts with a RunStarted at ``started``."""
    folder = runs_dir / name
    folder.mkdir(parents=True)
    first = {"type": "RunStarted", "time": started, "run_id": name, "config": {"model": model}}
    (folder / "events.jsonl").write_text(json.dumps(first) + "\n")


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    # Names that sort the other way from their start times: newest first means by time.
    make_run(runs, "b-oldest", 1_000.0)
    make_run(runs, "a-newest", 3_000.0, model="gpt")
    make_run(runs, "c-middle", 2_000.0)
    (runs / "not-a-run").mkdir()  # no events.jsonl
    return runs


def complete(line: str, runs_dir: Path | None = None) -> list[str]:
    """What bash would offer after ``line`` (the cursor at its end)."""
    words = line.split(" ")
    env = {
        **os.environ,
        "_LLMV0_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
    }
    if runs_dir is not None:
        env["LLMV0_RUNS_DIR"] = str(runs_dir)
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli.main"], env=env, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [word for word in done.stdout.splitlines() if word]


NEWEST_FIRST = ["a-newest", "c-middle", "b-oldest"]


@pytest.mark.parametrize(
    "line",
    ["llmv0 generate --run ", "llmv0 eval ", "llmv0 inspect ", "llmv0 compare a-newest ",
     "llmv0 control ", "llmv0 export ", "llmv0 plot "],
)  # fmt: skip
def test_run_ids_newest_first(runs_dir: Path, line: str) -> None:
    assert complete(line, runs_dir) == NEWEST_FIRST


def test_run_ids_from_the_runs_dir_typed_before(runs_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    make_run(other, "only-here", 5.0)
    assert complete(f"llmv0 eval --runs-dir {other} ", runs_dir) == ["only-here"]
    assert complete("llmv0 eval c", runs_dir) == ["c-middle"]


def test_presets_after_config() -> None:
    assert complete("llmv0 config --config ") == list_presets()
    assert complete("llmv0 config --config gpt-c") == ["gpt-cpu", "gpt-cpu-long"]


def test_config_keys_after_set() -> None:
    assert complete("llmv0 config --set ") == [f"{name}=" for name in RunConfig.model_fields]
    assert complete("llmv0 config --set learning_r") == ["learning_rate="]
    assert complete("llmv0 config --set model=") == ["model=lstm", "model=gpt"]
    assert complete("llmv0 config --set compile=") == ["compile=true", "compile=false"]


def test_control_actions_and_live_fields(runs_dir: Path) -> None:
    assert complete("llmv0 control a-newest ", runs_dir) == sorted(
        ["pause", "resume", "stop", "save", "sample", "set"]
    )
    offered = complete("llmv0 control a-newest set ", runs_dir)
    assert offered and {o.removesuffix("=") for o in offered} <= LIVE_FIELDS


def test_inspect_views_and_compare_metrics() -> None:
    assert complete("llmv0 inspect RUN --view ") == list(VIEWS)
    assert complete("llmv0 compare A B --metric ") == list(METRICS)
    assert complete("llmv0 compare A B --metric val") == ["val_loss"]


def test_a_broken_runs_folder_offers_nothing_quietly(tmp_path: Path) -> None:
    """A torn first line falls back to the file's time; a file as runs folder, to nothing."""
    make_run(tmp_path / "runs", "ok", 10.0)
    torn = tmp_path / "runs" / "torn"
    torn.mkdir()
    (torn / "events.jsonl").write_text('{"type": "RunSta')
    assert set(complete("llmv0 eval ", tmp_path / "runs")) == {"ok", "torn"}
    (tmp_path / "file").write_text("x")
    assert complete("llmv0 eval ", tmp_path / "file") == []


def test_sweep_names_read_the_sweep_database_without_optuna(tmp_path: Path) -> None:
    """Optuna's schema (studies.study_name), read with sqlite3 alone; newest first."""
    with sqlite3.connect(tmp_path / "sweeps.db") as db:
        db.execute("CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name TEXT)")
        db.executemany("INSERT INTO studies VALUES (?, ?)", [(1, "lr-width"), (2, "dropout")])
    db.close()
    assert sweep_names(tmp_path) == ["dropout", "lr-width"]
    assert sweep_names(tmp_path / "missing") == []


def test_train_completes_presets_keys_and_runs_to_resume(runs_dir: Path) -> None:
    assert complete("llmv0 train --config gpt-c") == ["gpt-cpu", "gpt-cpu-long"]
    assert complete("llmv0 train --set learning_r") == ["learning_rate="]
    assert complete("llmv0 train --resume ", runs_dir) == NEWEST_FIRST


def test_sweep_results_completes_sweep_names(runs_dir: Path) -> None:
    with sqlite3.connect(runs_dir / "sweeps.db") as db:
        db.execute("CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name TEXT)")
        db.executemany("INSERT INTO studies VALUES (?, ?)", [(1, "lr-width"), (2, "dropout")])
    db.close()
    assert complete("llmv0 sweep-results ", runs_dir) == ["dropout", "lr-width"]
