"""``--json`` on runs, compare, eval, inspect, config and control: the shapes docs/json.md
documents, numbers as numbers, full values, no colour; errors still exit 2 on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine import events as ev
from engine.config.schema import RunConfig
from engine.run.log import RunLog
from engine.train.trainer import Trainer
from tui.cli.main import app

runner = CliRunner()
TEXT = "ROMEO: But soft, what light through yonder window breaks?\n" * 40
LONG_ID = "20261207-101010-a-run-id-long-enough-that-an-80-column-table-would-cut-it"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GPT run (id ``gpt``) and an LSTM run (id LONG_ID), 20 steps, evaluated every 10."""
    root = tmp_path_factory.mktemp("json")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    for model, run_id in (("gpt", "gpt"), ("lstm", LONG_ID)):
        cfg = RunConfig(
            model=model, data_file=str(corpus), seq_length=16, batch_size=8, n_layer=2,
            n_head=2, n_embd=16, embedding_dim=8, hidden_dim=16, max_steps=20,
            eval_interval=10, sample_length=0, device="cpu", num_threads=1,
        )  # fmt: skip
        Trainer(cfg, runs_dir=root / "runs", run_id=run_id).run()
    return root / "runs"


def as_json(*args: str) -> Any:
    """Run ``llmv0 ARGS`` in-process; its stdout must be JSON and nothing else."""
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout  # no colour, even where the table has some
    return json.loads(result.stdout)


def assert_keys(data: dict, types: dict[str, type | tuple[type, ...]]) -> None:
    """Exactly these keys, each of these types (numbers as numbers, never strings)."""
    assert set(data) == set(types), set(data) ^ set(types)
    for key, kind in types.items():
        assert isinstance(data[key], kind), (key, data[key])


NUMBER = (int, float)


def test_runs_json_lists_every_run_whole(runs: Path) -> None:
    data = as_json("runs", "--json", "--runs-dir", str(runs))
    assert_keys(data, {"runs_dir": str, "runs": list})
    assert [r["run_id"] for r in data["runs"]] == ["gpt", LONG_ID]  # oldest first, as shown
    for run in data["runs"]:
        assert_keys(
            run,
            {
                "run_id": str,
                "path": str,
                "model": str,
                "state": str,
                "step": int,
                "total_steps": int,
                "best_val_loss": float,
                "started": float,
                "has_checkpoint": bool,
                "tags": list,
                "note": str,
                "changes": list,
                "error": str,
            },
        )
        assert run["state"] == "finished" and run["step"] == 20 == run["total_steps"]
        assert Path(run["path"]) == runs / run["run_id"]


def test_runs_json_changes_and_an_unevaluated_run(tmp_path: Path) -> None:
    """A live change keeps its typed values; no evaluation is null, not Infinity."""
    folder = tmp_path / "r"
    log = RunLog(folder / "events.jsonl")
    log(ev.RunStarted("r", {"model": "lstm"}, 1, "cpu", "float32", 4, 4, 30, 100, 10))
    log(ev.ConfigChanged(2, "learning_rate", 0.01, 0.005))
    log.close()
    (run,) = as_json("runs", "--json", "--runs-dir", str(tmp_path))["runs"]
    assert run["best_val_loss"] is None
    assert run["changes"] == [{"name": "learning_rate", "old": 0.01, "new": 0.005, "step": 2}]


def test_compare_json(runs: Path) -> None:
    data = as_json("compare", "gpt", LONG_ID, "--json", "--metric", "val_loss", "--runs-dir",
                   str(runs))  # fmt: skip
    assert_keys(data, {"metric": str, "differing_fields": list, "runs": list})
    assert "model" in data["differing_fields"] and "seed" not in data["differing_fields"]
    for run in data["runs"]:
        assert_keys(
            run,
            {
                "run_id": str,
                "path": str,
                "state": str,
                "step": int,
                "total_steps": int,
                "best_val_loss": float,
                "final_val_loss": float,
                "final_train_loss": float,
                "config": dict,
                "changes": list,
                "series": dict,
            },
        )
        assert run["series"]["steps"] == [10, 20]  # an evaluation every 10 steps
        assert all(isinstance(v, float) for v in run["series"]["values"])
        assert run["config"]["seq_length"] == 16  # the whole config, typed
    assert data["runs"][1]["run_id"] == LONG_ID


def test_eval_json(runs: Path) -> None:
    data = as_json("eval", "gpt", "--json", "--runs-dir", str(runs))
    assert_keys(
        data,
        {
            "run": str,
            "split": str,
            "loss": float,
            "loss_unit": str,
            "perplexity": float,
            "bits_per_char": float,
            "windows": int,
            "seq_length": int,
            "tokens": int,
            "chars": int,
        },
    )
    assert data["loss_unit"] == "nats/char" and data["seq_length"] == 16
    assert data["perplexity"] == pytest.approx(2.718281828459045 ** data["loss"], rel=1e-4)


SURPRISE = {
    "view": str, "run": str, "run_dir": str, "text": str, "pieces": list, "bits": list,
    "mean_bits": float, "hardest_tenth_bits": float, "cursor": int, "top": list,
    "hardest_characters": list, "easiest_words": list,
}  # fmt: skip
ATTENTION = {
    "view": str, "run": str, "run_dir": str, "text": str, "pieces": list, "n_layer": int,
    "n_head": int, "layer": int, "head": int, "query": int, "weights": list, "heads": list,
}  # fmt: skip
CELLS = {
    "view": str, "run": str, "run_dir": str, "text": str, "state": str, "units": int,
    "unit": int, "unit_name": str, "values": list, "ranked": list,
}  # fmt: skip
EMBEDDINGS = {"view": str, "run": str, "run_dir": str, "explained": list, "points": list,
              "random_explained": list, "random_spread": list, "random_draws": int,
              "beats_random": list, "tied_to_output": bool, "output": type(None)}  # fmt: skip
TIMELINE = {"view": str, "run": str, "run_dir": str, "pieces": list, "steps": list, "bits": list}


def test_inspect_surprise_json(runs: Path) -> None:
    data = as_json("inspect", "gpt", "--json", "--length", "40", "--cursor", "5",
                   "--runs-dir", str(runs))  # fmt: skip
    assert_keys(data, SURPRISE)
    assert len(data["pieces"]) == len(data["bits"]) == len(data["top"]) == 40
    assert data["bits"][0] is None and all(isinstance(b, float) for b in data["bits"][1:])
    assert data["cursor"] == 5 and data["top"][0] == []
    guess = data["top"][5][0]
    assert set(guess) == {"piece", "prob"} and 0 < guess["prob"] <= 1


def test_inspect_attention_json(runs: Path) -> None:
    data = as_json("inspect", "gpt", "--view", "attention", "--layer", "1", "--head", "1",
                   "--cursor", "9", "--json", "--runs-dir", str(runs))  # fmt: skip
    assert_keys(data, ATTENTION)
    assert (data["n_layer"], data["n_head"], data["query"]) == (2, 2, 9)
    assert len(data["weights"]) == 10 and sum(data["weights"]) == pytest.approx(1, abs=1e-4)
    assert len(data["heads"]) == 4 and set(data["heads"][0]) == {
        "layer", "head", "name", "share", "shares", "weights"
    }  # fmt: skip


def test_inspect_cells_embeddings_timeline_json(runs: Path) -> None:
    cells = as_json("inspect", LONG_ID, "--view", "cells", "--json", "--length", "30",
                    "--runs-dir", str(runs))  # fmt: skip
    assert_keys(cells, CELLS)
    assert len(cells["values"]) == 30 and cells["units"] == 16
    assert set(cells["ranked"][0]) == {"unit", "name", "feature", "correlation"}
    emb = as_json("inspect", "gpt", "--view", "embeddings", "--json", "--runs-dir", str(runs))
    assert_keys(emb, EMBEDDINGS)
    point = emb["points"][0]
    assert set(point) == {"piece", "kind", "upper", "x", "y", "trail", "near"}
    assert isinstance(point["x"], float)
    assert set(point["near"][0]) == {"piece", "cosine"} and len(point["near"]) == 5
    assert emb["tied_to_output"] is True and emb["output"] is None  # the GPT's head is its table
    assert 0 < emb["random_explained"][0] < 1 and emb["random_draws"] == 8
    timeline = as_json("inspect", "gpt", "--view", "timeline", "--json", "--rows", "1",
                       "--runs-dir", str(runs))  # fmt: skip
    assert_keys(timeline, TIMELINE)
    assert timeline["steps"] == [10, 20]  # every evaluation, whatever --rows shows
    assert len(timeline["bits"][0]) == len(timeline["pieces"])  # lined up: bits[r][t], pieces[t]
    assert timeline["bits"][0][0] is None and isinstance(timeline["bits"][1][1], float)


def test_config_json(tmp_path: Path) -> None:
    data = as_json("config", "--json", "--set", "learning_rate=0.002", "--set", "seed=3")
    assert_keys(data, {"config": dict, "fields": list, "presets": list})
    assert data["config"]["learning_rate"] == 0.002 and data["config"]["seed"] == 3
    assert data["config"] == RunConfig(learning_rate=0.002, seed=3).model_dump(mode="json")
    field = next(f for f in data["fields"] if f["name"] == "learning_rate")
    assert_keys(field, {"name": str, "value": float, "allowed": str, "description": str,
                        "live": bool})  # fmt: skip
    assert field["live"] is True and field["value"] == 0.002
    assert "gpt-cpu" in data["presets"]


def test_control_json_says_nobody_listens(runs: Path) -> None:
    data = as_json("control", "gpt", "pause", "--json", "--runs-dir", str(runs))
    assert_keys(data, {"run": str, "path": str, "action": str, "name": type(None),
                       "value": type(None), "answer": str, "message": str})  # fmt: skip
    assert (data["run"], data["action"], data["answer"]) == ("gpt", "pause", "no_trainer")
    data = as_json("control", "gpt", "set", "learning_rate=0.001", "--json", "--runs-dir",
                   str(runs))  # fmt: skip
    assert (data["name"], data["value"]) == ("learning_rate", 0.001)


@pytest.mark.parametrize(
    "args",
    [["runs", "--sort", "bogus"], ["eval", "missing"], ["inspect", "missing"],
     ["compare", "gpt", "missing"], ["config", "--set", "seed=x"],
     ["control", "gpt", "set", "seed=1"]],
)  # fmt: skip
def test_errors_with_json_exit_2_on_stderr(runs: Path, args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--json", "--runs-dir", str(runs)] if args[0] != "config"
                           else [*args, "--json"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error:") and "\n\n" not in result.stderr.strip()
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_runs_json_through_a_real_pipe_into_json_tool(runs: Path) -> None:
    """The issue's check, as a shell runs it: ``llmv0 runs --json | python -m json.tool``."""
    command = (
        f"set -o pipefail; {sys.executable} -m tui.cli.main runs --json --runs-dir '{runs}' "
        f"| {sys.executable} -m json.tool"
    )
    env = {**os.environ, "COLUMNS": "40"}  # a narrow terminal changes nothing in JSON
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env,
                          timeout=120, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["runs"][1]["run_id"] == LONG_ID
