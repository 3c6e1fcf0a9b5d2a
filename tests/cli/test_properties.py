"""The README's promise, generated: any bad input gives exit code 2 and one paragraph, never a
traceback, never a hang, and nothing already saved is lost.

Hypothesis generates configs (files and ``--set`` values), command lines, prompts and
generation settings, live changes, corrupt checkpoints, event logs and command lines for the
commands file. Everything runs in-process (Typer's CliRunner) against one tiny trained run,
so the suite stays well under a minute and a half on two cores. ``GENERATED`` at the bottom
is the number of inputs one run of this file tries.
"""

from __future__ import annotations

import json
import math
import shutil
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engine.config.fields import ConfigError
from engine.config.schema import LIVE_FIELDS, RunConfig, live_update, parse_value
from engine.control import Control
from engine.events import EVENT_TYPES
from engine.generate.decoding import SampleSettings
from engine.generate.sampling import generate
from engine.run.commands_file import CommandFile, parse_command
from engine.run.folder import COMMANDS_FILE, load_for_inference
from engine.run.log import read_events
from engine.run.summary import curves, list_runs
from engine.train.trainer import Trainer
from tui.cli.main import app

pytestmark = pytest.mark.timeout(120)  # a hang fails the test instead of stalling CI

runner = CliRunner()
EXAMPLES = {
    "set": 150, "config_file": 100, "argv": 150, "generate": 100, "settings": 150,
    "live": 150, "checkpoint": 60, "events": 40, "commands": 150,
}  # fmt: skip
GENERATED = sum(EXAMPLES.values())
"""Bad (or borderline) inputs generated per run of this file: 1,050."""

FAST = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}

# Text that has broken things before: markup, escapes, paths, control characters, huge numbers.
NASTY = st.sampled_from(
    ["[/]", "[x=", "[bold]", "]", "{", "}", "\\", "/", "../..", "/dev/zero", "\x00", "\x1b[2J",
     "nan", "inf", "-inf", "1e309", "1e-45", "9" * 40, "-1", "0", "", " ", "true", "null",
     "[]", "{}", '"', "'", "é", "日本", "\U0001f600", "\n", "\t"]
)  # fmt: skip
TEXT = st.one_of(NASTY, st.text(max_size=30), st.text(string.printable, max_size=30))
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 1e-45, 2**63, 2**63 - 1, 2**64, 1e308]),
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
FIELDS = sorted(RunConfig.model_fields)


def assert_promise(result: Any, allowed: tuple[int, ...] = (0, 2)) -> None:
    """Exit 0 or 2 (1 where a command may legitimately fail), no traceback; an error is one
    paragraph (no blank line inside it)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}\n{result.output}")
    assert result.exit_code in allowed, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "\n\n" not in result.output.strip(), result.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny run with a checkpoint: the target of generate, plot, report and corruption."""
    # Not `from conftest import ...`: run beside tests/tui, that name is tui's conftest.
    tiny_text = "ROMEO: But soft, what light through yonder window breaks?\n" * 60
    tiny_fields = {"seq_length": 16, "batch_size": 8, "embedding_dim": 16, "hidden_dim": 32,
                   "learning_rate": 0.01, "eval_interval": 5, "sample_length": 10,
                   "device": "cpu", "num_threads": 1, "seed": 7}  # fmt: skip
    root = tmp_path_factory.mktemp("props")
    corpus = root / "corpus.txt"
    corpus.write_text(tiny_text, encoding="utf-8")
    cfg = RunConfig(**{**tiny_fields, "data_file": str(corpus), "max_steps": 10})
    Trainer(cfg, runs_dir=root / "runs", run_id="tiny").run()
    return root / "runs"


def _set_args(pairs: list[tuple[str, str]]) -> list[str]:
    args: list[str] = []
    for key, value in pairs:
        args += ["--set", f"{key}={value}"]
    return args


@settings(max_examples=EXAMPLES["set"], **FAST)
@given(st.lists(st.tuples(st.one_of(st.sampled_from(FIELDS), TEXT), TEXT), max_size=4))
@example([("0\n\n0", "[/]")])  # an unknown name with line breaks split the error in two
def test_set_values(pairs: list[tuple[str, str]]) -> None:
    assert_promise(runner.invoke(app, ["config", *_set_args(pairs)]))


@settings(max_examples=EXAMPLES["config_file"], **FAST)
@given(
    data=st.one_of(
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), TEXT), JSON_VALUES, max_size=6),
        JSON_VALUES,
    ),
    junk=st.binary(max_size=40),
    corrupt=st.booleans(),
)
def test_config_files(data: Any, junk: bytes, corrupt: bool, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    text = json.dumps(data, allow_nan=True).encode()
    path.write_bytes(text[: len(text) // 2] + junk if corrupt else text)
    assert_promise(runner.invoke(app, ["config", "--config", str(path)]))


COMMANDS = ["config", "runs", "plot", "report", "generate", "eval", "control", "train"]
OPTIONS = ["--config", "--set", "--run", "--runs-dir", "--png", "--out", "--length", "-n",
           "--temperature", "--top-k", "--top-p", "--beams", "--strategy", "--seed", "--stop",
           "--num-samples", "--sample-seed", "--repetition-penalty", "--wait", "--run-id",
           "--resume", "--nproc", "--help"]  # fmt: skip


@settings(max_examples=EXAMPLES["argv"], **FAST)
@given(
    command=st.sampled_from(COMMANDS),
    rest=st.lists(st.one_of(st.sampled_from(OPTIONS), TEXT), max_size=6),
)
def test_command_lines(command: str, rest: list[str], tmp_path: Path) -> None:
    # Never a real training run: train only ever sees a runs folder it cannot use.
    if command == "train":
        rest = [*rest, "--config", str(tmp_path / "missing.json")]
    args = [command, *rest, "--runs-dir", str(tmp_path / "runs")]
    assert_promise(runner.invoke(app, args), allowed=(0, 1, 2))


@settings(max_examples=EXAMPLES["generate"], **FAST)
@given(
    prompt=TEXT,
    temperature=st.one_of(NUMBERS, st.sampled_from([0.0, 0.8])),
    top_p=st.floats(allow_nan=True, allow_infinity=True),
    penalty=st.one_of(NUMBERS, st.just(1.2)),
    strategy=st.sampled_from(["sample", "greedy", "beam", "Nope", "[/]"]),
    seed=st.integers(min_value=-(2**70), max_value=2**70),
)
def test_prompts_and_generation_settings(
    trained: Path,
    prompt: str,
    temperature: float,
    top_p: float,
    penalty: float,
    strategy: str,
    seed: int,
) -> None:
    args = ["generate", "--run", "tiny", "--runs-dir", str(trained), "--length", "4",
            "--prompt", prompt or "R", "--temperature", str(temperature), "--top-p", str(top_p),
            "--repetition-penalty", str(penalty), "--strategy", strategy,
            "--sample-seed", str(seed), "--beams", "2"]  # fmt: skip
    assert_promise(runner.invoke(app, args))


@settings(max_examples=EXAMPLES["settings"], **FAST)
@given(
    temperature=NUMBERS,
    top_k=st.integers(min_value=-5, max_value=10**6),
    top_p=NUMBERS,
    min_p=NUMBERS,
    penalty=NUMBERS,
    seed=st.integers(min_value=-(2**70), max_value=2**70),
    strategy=st.sampled_from(["sample", "greedy", "beam"]),
)
def test_sample_settings_are_refused_or_work(
    trained: Path, temperature, top_k, top_p, min_p, penalty, seed, strategy
) -> None:
    try:
        sample = SampleSettings(
            length=3, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
            repetition_penalty=penalty, seed=seed, strategy=strategy, beams=2,
        )  # fmt: skip
    except (ValueError, TypeError, OverflowError) as exc:
        assert isinstance(exc, ValueError), exc  # refused in words, not a TypeError
        return
    model, tokenizer, _ = _loaded(trained)
    text = generate(model, tokenizer, "R", sample)
    assert isinstance(text, str) and len(text) <= 3


_CACHE: dict[str, Any] = {}


def _loaded(trained: Path) -> Any:
    if "model" not in _CACHE:
        _CACHE["model"] = load_for_inference("tiny", runs_dir=trained)
    return _CACHE["model"]


@settings(max_examples=EXAMPLES["live"], **FAST)
@given(st.one_of(st.sampled_from(sorted(LIVE_FIELDS)), TEXT), st.one_of(JSON_VALUES, TEXT))
def test_live_changes_are_refused_or_applied(name: str, value: Any) -> None:
    cfg = RunConfig()
    if isinstance(value, str) and name in LIVE_FIELDS:
        value = parse_value(name, value)
    try:
        updated = live_update(cfg, name, value)
    except ConfigError as exc:
        assert str(exc).strip()
        return
    assert getattr(updated, name) is not None
    if name == "sample_temperature":
        assert updated.sample_temperature == 0 or updated.sample_temperature >= 1e-3


@settings(max_examples=EXAMPLES["checkpoint"], **FAST)
@given(data=st.data())
def test_corrupt_checkpoints(trained: Path, data: st.DataObject, tmp_path: Path) -> None:
    good = (trained / "tiny" / "latest.pt").read_bytes()
    mode = data.draw(st.sampled_from(["truncate", "flip", "splice"]))
    at = data.draw(st.integers(min_value=0, max_value=len(good) - 1))
    if mode == "truncate":
        bad = good[:at]
    elif mode == "flip":
        bad = bytearray(good)
        for offset in data.draw(st.lists(st.integers(0, len(good) - 1), min_size=1, max_size=8)):
            bad[offset] ^= 0xFF
        bad = bytes(bad)
    else:
        bad = good[:at] + data.draw(st.binary(min_size=1, max_size=64)) + good[at:]
    folder = tmp_path / "runs" / "bad"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "latest.pt").write_bytes(bad)
    shutil.copy(trained / "tiny" / "events.jsonl", folder / "events.jsonl")
    result = runner.invoke(
        app, ["generate", "--run", "bad", "--runs-dir", str(tmp_path / "runs"), "-n", "3"]
    )
    assert_promise(result)
    assert (trained / "tiny" / "latest.pt").read_bytes() == good, "nothing saved is lost"


EVENT_LINES = st.one_of(
    st.builds(
        lambda kind, fields: json.dumps({"type": kind, **fields}, allow_nan=True),
        st.sampled_from(sorted(EVENT_TYPES)),
        st.dictionaries(
            st.sampled_from(
                [
                    "step",
                    "epoch",
                    "loss",
                    "val_loss",
                    "perplexity",
                    "run_id",
                    "config",
                    "name",
                    "new",
                    "reason",
                    "time",
                    "is_best",
                    "notes",
                    "total_steps",
                    "lr",
                    "text",
                    "prompt",
                    "error",
                ]
            ),
            JSON_VALUES,
            max_size=8,
        ),
    ),
    TEXT,
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
)


@settings(max_examples=EXAMPLES["events"], **FAST)
@given(lines=st.lists(EVENT_LINES, min_size=1, max_size=8))
def test_corrupt_event_logs(trained: Path, lines: list[str], tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    folder = runs / "messy"
    folder.mkdir(parents=True, exist_ok=True)
    good = (trained / "tiny" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    mixed = [x for pair in zip(good, lines * len(good), strict=False) for x in pair]
    (folder / "events.jsonl").write_text("\n".join(mixed) + "\n", encoding="utf-8")
    history = read_events(folder / "events.jsonl", on_bad_line=lambda n, why: None)
    curves(history)
    list_runs(runs)
    for args in (["runs"], ["plot", "messy"], ["report", "messy"]):
        assert_promise(runner.invoke(app, [*args, "--runs-dir", str(runs)]))


@settings(max_examples=EXAMPLES["commands"], **FAST)
@given(
    lines=st.lists(
        st.one_of(
            st.binary(max_size=60),
            st.builds(
                lambda kind, name, value: json.dumps(
                    {"kind": kind, "name": name, "value": value}, allow_nan=True
                ).encode(),
                st.one_of(st.sampled_from(["set", "stop", "pause", "save"]), JSON_VALUES),
                st.one_of(st.sampled_from(sorted(LIVE_FIELDS)), JSON_VALUES),
                JSON_VALUES,
            ),
        ),
        max_size=6,
    )
)
def test_commands_file_lines(lines: list[bytes], tmp_path: Path) -> None:
    (tmp_path / COMMANDS_FILE).unlink(missing_ok=True)  # tmp_path is shared by examples
    reader = CommandFile(tmp_path)
    (tmp_path / COMMANDS_FILE).write_bytes(b"\n".join(lines) + b"\n")
    control = Control()
    reader.poll(control)
    for command in control.drain():  # whatever got through is well-formed
        assert isinstance(command.name, str)
        assert command.value is None or isinstance(command.value, bool | int | float | str)
        parse_command(json.dumps(command.__dict__, allow_nan=True).encode())
    assert math.isfinite(GENERATED)
