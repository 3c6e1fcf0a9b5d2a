"""Every option of every ``llmv0`` command, with generated values: exit 0 or 2 (1 only where
a command reports a failed run), never a traceback, never an uncaught exception.

The command tree is walked from the Typer app, so an option added tomorrow is fuzzed without
editing this file. Values mix extreme numbers (2**64, -1, 1e309, nan), markup ("[/]"), paths
to special files and random text. Guards keep the fuzz harmless on a shared machine run as
root (hostile round 3 walked the same tree by hand and found tracebacks for seeds >= 2**60,
``config --save DIR``, ``export -o DIR`` and more):

- every command gets ``--runs-dir`` of its own copy of one tiny trained run, and runs in a
  temporary working folder; output paths are kept inside it;
- ``train`` always gets a config file that does not exist, so it never trains, and process
  counts are never raised past the cores (``--force`` is not generated);
- options that scale the work (lengths, sample counts) draw from a bounded set, since a long
  generation on request is a feature, not a hang;
- run names for the commands that delete or move runs are the tiny run or plain names.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engine.config.schema import RunConfig
from engine.train.trainer import Trainer
from tui.cli.main import app

pytestmark = pytest.mark.timeout(300)

runner = CliRunner()
EXAMPLES = 300
"""Generated command lines per run (each one command, 0-4 options)."""

GROUP = typer.main.get_command(app)
COMMANDS = dict(sorted(GROUP.commands.items()))  # type: ignore[attr-defined]

NASTY = st.sampled_from(
    ["[/]", "[bold]x", "[link=http://x]y[/link]", "]", "\\", "", " ", "-", "--", "-1", "0",
     "1", "nan", "inf", "-inf", "1e309", "1e-45", str(2**60), str(2**63), str(2**64),
     str(-(2**63) - 1), "9" * 40, "0x10", "true", "null", "é", "日本", "\x1b[2J", "\t",
     "../..", "/", "/dev/zero", "/dev/null", "a/b", "tiny", "auto", "loss", "val_loss"]
)  # fmt: skip
TEXT = st.one_of(NASTY, st.text(max_size=20))
BOUNDED = st.sampled_from(["-1", "0", "1", "2", "3", "nan", "1e309", "x", "[/]", ""])

# Options that set an amount of work: a bounded set of values (see the module's docstring).
WORK = {"--length", "--num-samples", "--beams", "--candidates", "--repetition-window",
        "--rows", "--position", "--cursor", "--max-steps", "--wait", "--width"}  # fmt: skip
# Options never generated: they would start processes (kept within the cores by their own
# tests) or let a typo run a training.
NEVER = {"--force", "--detach", "--nnodes", "--node-rank", "--rdzv-endpoint", "--max-restarts",
         "--runs-dir", "--help", "--version", "--storage"}  # fmt: skip
OUTPUTS = {"--save", "--output", "--out", "--png", "--html", "--save-best-preset"}
DESTRUCTIVE = {"delete", "archive", "prune", "tag", "untag", "note"}

TINY_FIELDS = {"seq_length": 16, "batch_size": 8, "embedding_dim": 16, "hidden_dim": 32,
               "learning_rate": 0.01, "eval_interval": 5, "sample_length": 10,
               "device": "cpu", "num_threads": 1, "seed": 7}  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("every-option")
    corpus = root / "corpus.txt"
    corpus.write_text("ROMEO: But soft, what light through yonder window?\n" * 60, "utf-8")
    cfg = RunConfig(**{**TINY_FIELDS, "data_file": str(corpus), "max_steps": 6})
    Trainer(cfg, runs_dir=root / "runs", run_id="tiny").run()
    return root / "runs"


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option" and p.opts[0] not in NEVER]


def _arguments(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "argument"]


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[str, list[str]]:
    name = draw(st.sampled_from(sorted(COMMANDS)))
    command = COMMANDS[name]
    args: list[str] = []
    for argument in _arguments(command):
        if name in DESTRUCTIVE or (name == "control" and argument.name == "run"):
            value = draw(st.sampled_from(["tiny", "nope", "[/]", "x y"]))
        else:
            value = draw(TEXT)
        if not value.startswith("-"):  # a leading dash is an option, tested below
            args.append(value)
    options = _options(command)
    for option in draw(st.lists(st.sampled_from(options), max_size=4)) if options else []:
        flag = option.opts[0]
        args.append(flag)
        if option.is_flag:
            continue
        args.append(draw(BOUNDED if flag in WORK else TEXT))
    return name, args


def _keep_inside(args: list[str], folder: Path) -> list[str]:
    """Output paths stay in the example's own folder (absolute ones are re-rooted there)."""
    kept = list(args)
    for i, arg in enumerate(kept[:-1]):
        if arg in OUTPUTS:
            value = kept[i + 1]
            kept[i + 1] = str(folder / value.lstrip("/")) if value.startswith("/") else value
    return kept


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(line=command_lines())
def test_every_option_of_every_command(trained: Path, line: tuple[str, list[str]]) -> None:
    name, args = line
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = folder / "runs"
        shutil.copytree(trained, runs)
        args = _keep_inside(args, folder)
        if name == "train":  # never a real training run
            args += ["--config", str(folder / "missing.json")]
        argv = [name, *args, "--runs-dir", str(runs)]
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            result = runner.invoke(app, argv)
        finally:
            os.chdir(cwd)
    event(f"exit {result.exit_code}")  # --hypothesis-show-statistics: how many got through
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"llmv0 {argv!r}: uncaught {result.exception!r}\n{result.output}")
    assert result.exit_code in (0, 1, 2), (argv, result.exit_code, result.output)
    assert "Traceback" not in result.output, (argv, result.output)
    if result.exit_code == 1:  # 1 means a run failed: only commands that run one may say it
        assert name in {"train", "sweep", "generate", "eval"}, (argv, result.output)


def test_the_walk_reaches_every_command_and_option() -> None:
    """The fuzz is only as wide as the walk: it must see the commands users type."""
    assert {"train", "generate", "config", "runs", "inspect", "sweep", "control"} <= set(COMMANDS)
    assert sum(len(_options(c)) for c in COMMANDS.values()) >= 60
