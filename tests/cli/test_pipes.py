"""Pipes and terminals: a closed pipe ends quietly with exit 0, tables off a terminal keep
every value whole, ``config`` wraps between words at any width, and text is never markup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import events as ev
from engine.config.schema import RunConfig
from engine.run.log import RunLog
from engine.train.trainer import Trainer
from tui.cli.main import app
from tui.shared import cli_options

runner = CliRunner()
LONG_ID = "20261207-101010-a-run-id-long-enough-that-an-80-column-table-would-cut-it"


def scripted_run(runs_dir: Path, name: str, changes: int = 0) -> Path:
    """A finished run folder from scripted events (no training), with ``changes`` live
    learning-rate changes."""
    folder = runs_dir / name
    log = RunLog(folder / "events.jsonl")
    log(ev.RunStarted(name, {"model": "lstm"}, 100, "cpu", "float32", 40, 10, 30, 1000, 100))
    for step in range(1, 41):
        log(ev.StepCompleted(step, 0, 2.0, 0.01, 5000.0, 0.5, step * 0.1, 40))
        if step <= changes:
            log(ev.ConfigChanged(step, "learning_rate", 0.01 / step, 0.01 / (step + 1)))
    log(ev.EvalCompleted(40, 0, 1.9, 1.95, 7.0, 2.8, 1.9, True))
    log(ev.RunFinished("completed", 40, 1.95, 4.0))
    log.close()
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny trained run (``tiny``), for ``generate`` and ``export``."""
    root = tmp_path_factory.mktemp("pipes")
    corpus = root / "corpus.txt"
    corpus.write_text("ROMEO: But soft, what light through yonder window breaks?\n" * 40)
    cfg = RunConfig(
        data_file=str(corpus), seq_length=16, batch_size=8, embedding_dim=8, hidden_dim=16,
        max_steps=10, eval_interval=5, sample_length=0, device="cpu", num_threads=1,
    )  # fmt: skip
    Trainer(cfg, runs_dir=root / "runs", run_id="tiny").run()
    scripted_run(root / "runs", LONG_ID, changes=12)
    return root / "runs"


def _env(runs_dir: Path) -> dict[str, str]:
    return {**os.environ, "LLMV0_RUNS_DIR": str(runs_dir), "PYTHONUNBUFFERED": ""}


CLOSED_PIPE_COMMANDS = {
    "config": ["config"],
    "runs": ["runs"],
    "export": ["export", "tiny"],
    "generate": ["generate", "--run", "tiny", "--length", "2000"],
    "inspect": ["inspect", "tiny", "--length", "40"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLOSED_PIPE_COMMANDS))
def test_a_closed_pipe_ends_quietly_with_exit_0(trained: Path, name: str) -> None:
    """The reader is gone before the first write (``| head -0``): every write meets EPIPE.

    Exit 0 and nothing on stderr, as git and cat do; before, exit 1 (click and Rich both
    turn EPIPE into 1), and a write still buffered at exit printed "Exception ignored".
    """
    argv = [sys.executable, "-m", "tui.cli.main", *CLOSED_PIPE_COMMANDS[name]]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env=_env(trained), start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()  # the only reader closes at once
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, stderr.decode()
    assert stderr.decode() == ""


@pytest.mark.slow
def test_config_into_head_has_pipestatus_0(trained: Path) -> None:
    """The issue's check as a shell runs it: ``llmv0 config | head -1; echo ${PIPESTATUS[0]}``."""
    script = f"{sys.executable} -m tui.cli.main config | head -1; echo status ${{PIPESTATUS[0]}}"
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=_env(trained),
        stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    assert done.stdout.splitlines()[-1] == "status 0", done.stdout + done.stderr
    assert done.stderr == ""


def test_runs_off_a_terminal_keeps_every_value_whole(trained: Path) -> None:
    """``llmv0 runs | cat`` cut "finished" to "fini…" and the run id's neighbours to "…"."""
    result = runner.invoke(app, ["runs", "--runs-dir", str(trained)])
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    row = next(line for line in result.output.splitlines() if LONG_ID in line)
    assert "finished" in row and "40/40" in row and "1.9500" in row
    assert "learning_rate 0.01 → 0.005 @1; learning_rate 0.005 → 0.00333333 @2" in row


def test_runs_names_a_long_runs_folder_whole(tmp_path: Path) -> None:
    """The folder was the table's title, which wraps to the table's width: a long path split."""
    deep = tmp_path / ("a-folder-name-long-enough-to-be-wider-than-the-table-" * 3) / "runs"
    scripted_run(deep, "r")
    result = runner.invoke(app, ["runs", "--runs-dir", str(deep)])
    assert result.exit_code == 0, result.output
    assert f"Runs in {deep}" in result.output


def test_columns_in_the_environment_cuts_nothing_off_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytest-xdist's workers (and some shells) export COLUMNS=80: consoles made then cut every
    piped table at 80 columns. COLUMNS describes a terminal; off one it is ignored."""
    import io

    from rich.table import Table

    monkeypatch.setenv("COLUMNS", "40")
    console = cli_options.CliConsole(file=io.StringIO(), highlight=False)
    table = Table("run", "state")
    table.add_row("a-run-id-much-longer-than-forty-columns-20261207-120000", "finished")
    console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "a-run-id-much-longer-than-forty-columns-20261207-120000" in text
    assert "finished" in text and "…" not in text


def test_an_explicit_width_still_wins(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A width given to the console is still obeyed off a terminal."""
    monkeypatch.setattr(cli_options.out, "_width", 60)
    result = runner.invoke(app, ["runs", "--runs-dir", str(trained)])
    assert max(len(line) for line in result.output.splitlines()) <= 60


@pytest.mark.parametrize("width", [50, 80, 100, 140, 220])
def test_config_never_splits_a_word(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every word of every cell appears whole, at any width: a table that wraps between
    words, or one block per field when the longest words do not fit side by side.

    At 80 columns the value 'shakespeare.txt' printed as 'shakespeare.tx' over 't''.
    """
    from engine.config.schema import RunConfig, field_range

    monkeypatch.setattr(cli_options.out, "_width", width)
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    assert max(len(line.rstrip()) for line in result.output.splitlines()) <= width
    cfg = RunConfig()
    for name, info in RunConfig.model_fields.items():
        cells = (name, repr(getattr(cfg, name)), field_range(name), info.description or "")
        for word in " ".join(cells).split():
            if len(word) + 6 <= width:  # a word wider than the terminal must fold somewhere
                assert word in result.output, (name, word)


def test_config_set_markup_value_is_an_error_paragraph_that_keeps_the_brackets() -> None:
    """``config --set 'data_file=[/]'`` printed a Rich MarkupError traceback, exit 1."""
    result = runner.invoke(app, ["config", "--set", "data_file=[/]"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: The corpus file [/] does not exist.")
    assert "\n\n" not in result.stderr.strip() and "Traceback" not in result.output


def test_config_shows_markup_in_values_as_typed() -> None:
    """A value with markup shows as typed (it was read as markup: 'x[bold]y' showed 'xy')."""
    result = runner.invoke(app, ["config", "--set", "sample_prompt=x[bold]y[/] :smile:"])
    assert result.exit_code == 0, result.output
    assert "'x[bold]y[/] :smile:'" in result.output
    data = json.loads(runner.invoke(app, ["config", "--json", "--set", "sample_prompt=[/]"]).stdout)
    assert data["config"]["sample_prompt"] == "[/]"


def test_config_save_keeps_a_corpus_that_is_not_here(tmp_path: Path) -> None:
    """--save writes a config for another machine: its corpus need not exist on this one."""
    target = tmp_path / "remote.json"
    result = runner.invoke(
        app, ["config", "--set", "data_file=/data/on/the/cluster.txt", "--save", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["data_file"] == "/data/on/the/cluster.txt"
