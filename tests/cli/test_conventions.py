"""Command-line conventions: --version, -h, shell completion, flag help, the prompt option's
name, exit codes after Ctrl-C, and the dashboard's --runs-dir and --serve --attach."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tui.cli import main as cli
from tui.dashboard import command_line
from tui.dashboard.serve import ATTACH_ENV

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
TINY = [
    "seq_length=16", "batch_size=8", "embedding_dim=8", "hidden_dim=16", "eval_interval=4",
    "sample_length=5", "device=cpu", "num_threads=1",
]  # fmt: skip


def sets(*items: str) -> list[str]:
    return [a for item in items for a in ("--set", item)]


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def trained(corpus: Path, runs_dir: Path) -> str:
    args = ["train", "--max-steps", "4", "--run-id", "r", "--runs-dir", str(runs_dir)]
    result = runner.invoke(cli.app, [*args, *sets(f"data_file={corpus}", *TINY)])
    assert result.exit_code == 0, result.output
    return "r"


@pytest.mark.parametrize("entry", [cli.app, command_line.tui_app], ids=["llmv0", "llmv0-tui"])
def test_version(entry) -> None:
    result = runner.invoke(entry, ["--version"])
    assert result.exit_code == 0
    assert re.fullmatch(r"llmv0 \d+\.\d+\.\d+\S*\n", result.stdout)


@pytest.mark.parametrize(
    ("entry", "args"),
    [(cli.app, []), (cli.app, ["train"]), (cli.app, ["generate"]), (command_line.tui_app, [])],
)
def test_h_is_help_and_flags_show_no_type(entry, args: list[str]) -> None:
    short = runner.invoke(entry, [*args, "-h"], terminal_width=200)
    long = runner.invoke(entry, [*args, "--help"], terminal_width=200)
    assert short.exit_code == 0 and "Usage" in short.stdout
    assert short.stdout == long.stdout
    assert "<bool>" not in short.stdout  # flags take no value
    assert "<str>" in short.stdout or args == []  # options that take one still say what


def test_flags_of_train_are_listed_bare() -> None:
    text = runner.invoke(cli.app, ["train", "-h"], terminal_width=200).stdout
    line = next(line for line in text.splitlines() if "--no-samples" in line)
    assert re.search(r"--no-samples\s+Don't print", line)


def test_shell_completion_completes_commands_and_options() -> None:
    assert "--install-completion" in runner.invoke(cli.app, ["-h"]).stdout
    assert "--install-completion" in runner.invoke(command_line.tui_app, ["-h"]).stdout
    script = runner.invoke(cli.app, ["--show-completion", "bash"], prog_name="llmv0")
    assert "_LLMV0_COMPLETE=complete_bash" in script.stdout
    env = {"_LLMV0_COMPLETE": "complete_bash", "COMP_WORDS": "llmv0 tr", "COMP_CWORD": "1"}
    completed = runner.invoke(cli.app, [], env=env, prog_name="llmv0")
    assert completed.stdout.split() == ["train"]
    env = {
        "_LLMV0_COMPLETE": "complete_bash",
        "COMP_WORDS": "llmv0 train --max-s",
        "COMP_CWORD": "2",
    }
    assert runner.invoke(cli.app, [], env=env, prog_name="llmv0").stdout.split() == ["--max-steps"]


def test_prompt_is_the_option_and_seed_a_deprecated_alias(trained: str, runs_dir: Path) -> None:
    base = ["generate", "--run", trained, "--length", "20", "--runs-dir", str(runs_dir)]
    new = runner.invoke(cli.app, [*base, "--prompt", "ROMEO:"])
    assert new.exit_code == 0 and new.stdout.startswith("ROMEO:")
    assert "deprecated" not in new.stderr
    old = runner.invoke(cli.app, [*base, "--seed", "ROMEO:"])
    assert old.exit_code == 0 and old.stdout == new.stdout  # same prompt, same sample seed
    assert "--seed as the prompt is deprecated; use --prompt" in flat(old.stderr)
    both = runner.invoke(cli.app, [*base, "--seed", "A", "--prompt", "B"])
    assert both.exit_code == 2 and "Give the prompt once" in flat(both.stderr)
    help_text = runner.invoke(cli.app, ["generate", "-h"], terminal_width=200).stdout
    assert "--prompt" in help_text and "--seed " not in help_text  # hidden, not advertised


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_then_exits_128_plus_it(
    corpus: Path, runs_dir: Path, signum: int, code: int
) -> None:
    command = [
        sys.executable, "-m", "tui.cli.main", "train", "--max-steps", "1000000", "--run-id", "s",
        "--runs-dir", str(runs_dir), *sets(f"data_file={corpus}", *TINY, "eval_interval=100000"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    log = runs_dir / "s" / "events.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and '"StepCompleted"' not in _text(log):
        time.sleep(0.1)
    process.send_signal(signum)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == code, output
    assert (runs_dir / "s" / "latest.pt").exists()  # stopped gracefully: saved first
    assert '"reason": "stopped"' in _text(log) and "Resume with: llmv0 train --resume s" in output


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_dashboard_runs_dir_is_where_runs_are_looked_up(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    result = runner.invoke(command_line.tui_app, ["--runs-dir", str(folder), "--attach", "nope"])
    assert result.exit_code == 2
    assert str(folder) in flat(result.stderr) and "Traceback" not in result.output


def test_serve_attach_reaches_every_browser_tab(
    trained: str, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui.dashboard.launch
    import tui.dashboard.serve

    seen: dict[str, object] = {}

    # A browser tab's dashboard process (`python -m tui`, no arguments) attaches.
    def fake_dashboard(**kwargs: object) -> int:
        seen["dashboard"] = kwargs
        return 0

    def fake_serve(host: str, port: int, config: str | None, run: str | None) -> int:
        seen["env"] = os.environ.get(ATTACH_ENV), os.environ.get("LLMV0_RUNS_DIR")
        seen["tab"] = _no_arguments(monkeypatch)  # a tab opened while serving
        return 0

    monkeypatch.setattr(tui.dashboard.serve, "serve", fake_serve)
    monkeypatch.setattr(tui.dashboard.launch, "run_dashboard", fake_dashboard)
    monkeypatch.delenv(ATTACH_ENV, raising=False)
    args = ["--serve", "--attach", trained, "--runs-dir", str(runs_dir)]
    result = runner.invoke(command_line.tui_app, args)
    assert result.exit_code == 0, result.output
    folder = str((runs_dir / trained).resolve())
    assert seen["env"] == (folder, str(runs_dir.resolve()))
    assert seen["tab"] == 0 and seen["dashboard"]["attach"] == folder

    wrong = runner.invoke(
        command_line.tui_app, ["--serve", "--attach", "nope", "--runs-dir", str(runs_dir)]
    )
    assert wrong.exit_code == 2 and "nope" in wrong.stderr


def _no_arguments(monkeypatch: pytest.MonkeyPatch) -> object:
    """``llmv0-tui`` (or a served tab's ``python -m tui``) with no arguments: its exit code."""
    from tui.dashboard.entry import tui_main

    monkeypatch.setattr(sys, "argv", ["llmv0-tui"])
    with pytest.raises(SystemExit) as exit_:
        tui_main()
    return exit_.value.code


def test_no_arguments_skip_the_parser_but_keep_every_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without arguments the dashboard starts without typer (a faster first frame); the
    options' defaults still hold: --attach from its variable, runs from $LLMV0_RUNS_DIR."""
    monkeypatch.setenv(ATTACH_ENV, "nope")
    monkeypatch.setenv("LLMV0_RUNS_DIR", str(tmp_path / "runs-here"))
    assert _no_arguments(monkeypatch) == 2
    message = flat(capsys.readouterr().err)
    assert "nope" in message and "runs-here" in message and "Traceback" not in message


def test_shell_completion_without_arguments_goes_through_the_parser() -> None:
    code = "import sys; sys.argv = ['llmv0-tui']; import tui.dashboard.entry as e; e.tui_main()"
    env = {**os.environ, "_LLMV0_TUI_COMPLETE": "source_bash", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "_LLMV0_TUI_COMPLETE=complete_bash" in result.stdout  # typer's bash script


def test_serve_leaves_the_environment_as_it_found_it(
    trained: str, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--serve's settings for its tabs must not outlive it: they once leaked into every
    dashboard a later test started, which then showed another run."""
    import tui.dashboard.serve

    monkeypatch.setattr(tui.dashboard.serve, "serve", lambda *args: 0)
    monkeypatch.delenv(ATTACH_ENV, raising=False)
    monkeypatch.delenv("LLMV0_RUNS_DIR", raising=False)
    args = ["--serve", "--attach", trained, "--runs-dir", str(runs_dir)]
    assert runner.invoke(command_line.tui_app, args).exit_code == 0
    assert ATTACH_ENV not in os.environ and "LLMV0_RUNS_DIR" not in os.environ
