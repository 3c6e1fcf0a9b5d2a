"""Bad input at the command line: exit code 2 and one paragraph that quotes the input as typed
(brackets included), never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tui.cli.main import app

runner = CliRunner()
pytestmark = pytest.mark.timeout(60)


def _flat(text: str) -> str:
    return "".join(text.split())


def test_bracketed_parts_of_a_path_are_kept_in_errors(tmp_path: Path) -> None:
    missing = tmp_path / "my [best] config.json"
    result = runner.invoke(app, ["config", "--config", str(missing)])
    assert result.exit_code == 2
    assert "[best]config.json" in _flat(result.output)
    assert "Traceback" not in result.output


def test_bracketed_field_names_are_kept_in_errors() -> None:
    result = runner.invoke(app, ["config", "--set", "[bold]x=1"])
    assert result.exit_code == 2
    assert "[bold]x" in _flat(result.output)


@pytest.mark.parametrize("run_id", ["../outside", "/tmp/elsewhere", "a/b"])
def test_a_run_id_outside_the_runs_folder_is_refused(tmp_path: Path, run_id: str) -> None:
    runs = tmp_path / "runs"
    result = runner.invoke(
        app, ["train", "--run-id", run_id, "--runs-dir", str(runs), "--max-steps", "1"]
    )
    assert result.exit_code == 2, result.output
    assert "path separator" in result.output or "folder name" in result.output
    assert not (tmp_path / "outside").exists()


def test_a_fifo_as_config_is_refused_without_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    result = runner.invoke(app, ["config", "--config", str(fifo)])
    assert result.exit_code == 2
    assert "named pipe" in result.output


def test_dev_zero_as_config_is_refused_without_reading_it_all() -> None:
    result = runner.invoke(app, ["config", "--config", "/dev/zero"])
    assert result.exit_code == 2
    assert "character device" in result.output


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_special_prompt_file_is_refused_without_a_hang(tmp_path: Path, kind: str) -> None:
    path = Path("/dev/zero")
    if kind == "fifo":
        path = tmp_path / "prompt"
        os.mkfifo(path)
    result = runner.invoke(app, ["generate", "--run", "any", "--prompt-file", str(path)])
    assert result.exit_code == 2, result.output
    assert "notaregularfile" in _flat(result.output)


@pytest.mark.parametrize(
    ("args", "said"),
    [(["--resume", ""], "--resume needs"), (["--resume", "--max-steps", "5"], "--max-steps")],
)
def test_resume_without_a_run_is_a_usage_error_at_once(
    tmp_path: Path, args: list[str], said: str
) -> None:
    """Hostile round 3: `--resume` with an empty value started a fresh full run (nothing said
    it had not resumed), and `--resume --max-steps 5` took the option for the run's name."""
    result = runner.invoke(app, ["train", *args, "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert said in _flat(result.output) or said in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()  # nothing started
