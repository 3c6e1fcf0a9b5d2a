"""Optional extras: a command whose extra is missing names it in one line and exits 2.

The fresh-venv test (tests/e2e/test_fresh_install.py) checks the same without the packages
really installed; these tests hide them from ``importlib`` to run in seconds.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tui.cli import main as cli
from tui.dashboard import command_line

runner = CliRunner()
TINY = ["--set", "seq_length=16", "--set", "batch_size=8", "--set", "hidden_dim=16"]
TINY += ["--set", "embedding_dim=8", "--set", "eval_interval=4", "--set", "sample_length=5"]
TINY += ["--set", "device=cpu", "--set", "num_threads=1"]


@pytest.fixture
def hide(monkeypatch: pytest.MonkeyPatch):
    """``hide("matplotlib")``: make a module look not installed."""
    real = importlib.util.find_spec
    hidden: set[str] = set()

    def find_spec(name: str, *args, **kwargs):
        return None if name.split(".")[0] in hidden else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    return hidden.add


@pytest.fixture
def run(corpus: Path, runs_dir: Path) -> str:
    args = ["train", "--max-steps", "4", "--run-id", "x", "--runs-dir", str(runs_dir)]
    result = runner.invoke(cli.app, [*args, "--set", f"data_file={corpus}", *TINY])
    assert result.exit_code == 0, result.output
    return "x"


def test_plot_png_names_the_png_extra(run: str, runs_dir: Path, tmp_path: Path, hide) -> None:
    hide("matplotlib")
    png = tmp_path / "c.png"
    result = runner.invoke(cli.app, ["plot", run, "--png", str(png), "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())  # rich wraps at the terminal's width
    assert "needs matplotlib" in message and "pip install 'llmv0[png]'" in message
    assert "Traceback" not in result.output and not png.exists()
    # The terminal chart needs no extra.
    result = runner.invoke(cli.app, ["plot", run, "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0 and "validation perplexity" in result.stdout


def test_report_without_matplotlib_is_written_without_its_chart(
    run: str, runs_dir: Path, hide
) -> None:
    hide("matplotlib")
    result = runner.invoke(cli.app, ["report", run, "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    text = (runs_dir / run / "report.md").read_text(encoding="utf-8")
    assert "llmv0[png]" in text and "## Final metrics" in text
    assert not (runs_dir / run / "report-loss.png").exists()
    assert "llmv0[png]" in " ".join(result.stderr.split())


def test_serve_names_the_serve_extra(hide) -> None:
    hide("textual_serve")
    result = runner.invoke(command_line.tui_app, ["--serve"])
    assert result.exit_code == 2
    assert "pip install 'llmv0[serve]'" in result.stderr
    assert result.stderr.count("\n") == 1  # one line
