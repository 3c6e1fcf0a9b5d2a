"""``llmv0 inspect RUN --html FILE`` writes the page and says where, nothing else (issue 24,
item 7); with --json the JSON stays the only thing on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.config.schema import RunConfig
from engine.train.trainer import Trainer
from tui.cli.main import app

TEXT = "ROMEO: O Juliet, (softly) come here.\nJULIET: Romeo!\n" * 20


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("html_only")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    cfg = RunConfig(
        model="lstm", data_file=str(corpus), seq_length=16, batch_size=4, embedding_dim=8,
        hidden_dim=8, max_steps=2, eval_interval=2, sample_length=0, device="cpu",
        num_threads=1,
    )  # fmt: skip
    Trainer(cfg, runs_dir=root / "runs", run_id="lstm").run()
    return root / "runs"


@pytest.mark.parametrize("view", ["surprise", "cells"])
def test_html_prints_one_line_saying_where(runs: Path, tmp_path: Path, view: str) -> None:
    page = tmp_path / "view.html"
    result = CliRunner().invoke(
        app, ["inspect", "lstm", "--view", view, "--html", str(page), "--runs-dir", str(runs)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [f"Wrote {page}"]
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_html_with_json_keeps_stdout_json(runs: Path, tmp_path: Path) -> None:
    page = tmp_path / "view.html"
    result = CliRunner().invoke(
        app, ["inspect", "lstm", "--json", "--html", str(page), "--runs-dir", str(runs)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["view"] == "surprise"
    assert f"Wrote {page}" in result.stderr and page.exists()
