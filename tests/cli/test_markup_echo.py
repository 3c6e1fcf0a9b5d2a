"""User text is data, never markup: every command that echoes a value prints it as typed.

Hypothesis builds markup-like text (``[/]``, ``[bold]x``, ``[link=...]``, emoji codes like
``:smile:``) and hands it to each command where it is echoed: ``config --set`` values, run
names (as ids and in folders), tags, notes, filters, prompts and file paths. Every answer
exits 0 or 2, without a traceback, and shows the text verbatim (or quoted as Python quotes
it, where a message quotes what was typed).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engine import events as ev
from engine.config.schema import RunConfig
from engine.run.log import RunLog
from engine.train.trainer import Trainer
from tui.cli.main import app

pytestmark = pytest.mark.timeout(240)
runner = CliRunner()
FAST = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}

# Pieces that Rich would read as markup or emoji; no '/' or '\\' in NAME_PIECES (a run id
# is one folder name) and every character of them is in the trained model's corpus.
NAME_PIECES = ["[bold]", "[link=file:x]", "[red on blue]", "[@click=app.quit]", ":smile:",
               "[x=", "]", "[", "a", "b c"]  # fmt: skip
PIECES = [*NAME_PIECES, "[/]", "[/bold]", "[link=https://e.x/]y[/link]", "\\[b]"]
TEXT = st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join)
NAME = (
    st.lists(st.sampled_from(NAME_PIECES), min_size=1, max_size=3)
    .map("".join)
    .filter(lambda s: s.strip() == s and s not in {".", ".."})
)
CORPUS = (
    "ROMEO: But soft, what light through yonder window breaks?\n" + "".join(PIECES) + "\n"
) * 30


def echoed(result: Any, text: str, codes: tuple[int, ...] = (0, 2)) -> None:
    """Exit in ``codes``, no traceback, and ``text`` shown as typed (or quoted as Python
    quotes it: a message may show ``'model=\\\\[b]'`` for the filter ``model=\\[b]``)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}\n{result.output}")
    assert result.exit_code in codes, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert text in result.output or repr(text)[1:-1] in result.output, (text, result.output)


def invoke(*args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained run (``tiny``) whose vocabulary holds every markup character above."""
    root = tmp_path_factory.mktemp("markup")
    corpus = root / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    cfg = RunConfig(
        data_file=str(corpus), seq_length=16, batch_size=8, embedding_dim=8, hidden_dim=16,
        max_steps=10, eval_interval=5, sample_length=0, device="cpu", num_threads=1,
    )  # fmt: skip
    Trainer(cfg, runs_dir=root / "runs", run_id="tiny").run()
    return root / "runs"


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A fresh folder per call (hypothesis reuses a function's tmp_path across examples)."""
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def scripted_run(runs_dir: Path, name: str) -> Path:
    """A finished run folder from a few scripted events (no training, no checkpoint)."""
    folder = runs_dir / name
    log = RunLog(folder / "events.jsonl")
    log(ev.RunStarted(name, {"model": "lstm"}, 100, "cpu", "float32", 4, 4, 30, 100, 10))
    for step in (1, 2):
        log(ev.StepCompleted(step, 0, 2.0, 0.01, 5000.0, 0.5, step * 0.1, 2))
    log(ev.EvalCompleted(2, 0, 1.9, 1.95, 7.0, 2.8, 1.9, True))
    log(ev.RunFinished("completed", 2, 1.95, 1.0))
    log.close()
    return folder


@settings(max_examples=40, **FAST)
@given(text=TEXT)
@example(text="[/]")
@example(text=":smile:[bold]")
def test_config_set_values(text: str) -> None:
    echoed(invoke("config", "--set", f"sample_prompt={text}"), repr(text), codes=(0,))
    # The corpus error names the path as pathlib spells it ('//' as '/').
    echoed(invoke("config", "--set", f"data_file={text}"), str(Path(text)), codes=(2,))
    if "=" not in text:  # else the key ends at its first '='
        echoed(invoke("config", "--set", f"{text}=1"), text, codes=(2,))


@settings(max_examples=10, **FAST)
@given(name=NAME, text=TEXT)
@example(name="[bold]x :smile:", text="[/]")
@example(name="[x=", text="]")  # each part escaped, yet "[x=: tags ]" was one tag: no output
def test_run_names_tags_notes_filters_and_paths(name: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runs, other = Path(tmp) / "runs", "plain"
        scripted_run(runs, name)
        scripted_run(runs, other)
        rd = ("--runs-dir", runs)
        echoed(invoke("runs", *rd), name, codes=(0,))
        echoed(invoke("runs", "--filter", f"model={text}", *rd), text)
        echoed(invoke("tag", name, text, *rd), text)
        echoed(invoke("note", name, text, *rd), text, codes=(0,))
        echoed(invoke("note", name, *rd), text, codes=(0,))
        echoed(invoke("compare", name, other, *rd), name, codes=(0,))
        echoed(invoke("export", name, "-o", Path(tmp) / f"{name}.csv", *rd), name, codes=(0,))
        echoed(invoke("report", name, "--out", Path(tmp) / f"{name}.md", *rd), name, (0,))
        echoed(invoke("plot", name, *rd), "", codes=(0,))
        echoed(invoke("control", name, "pause", *rd), name, codes=(0,))
        for command in ("eval", "plot", "report", "inspect", "export", "note"):
            echoed(invoke(command, f"{name}-missing", *rd), f"{name}-missing", codes=(2,))
        echoed(invoke("generate", "--run", f"{name}-missing", *rd), name, codes=(2,))
        echoed(invoke("archive", name, "--yes", *rd), str(runs / "archive" / name), (0,))
        echoed(invoke("delete", other, "--yes", *rd), str(runs / other), codes=(0,))
        echoed(invoke("runs", *rd), str(runs), codes=(0,))  # "No runs in RUNS yet."


@settings(max_examples=8, **FAST)
@given(name=NAME, prompt=TEXT)
@example(name="[bold]x :smile:", prompt="[/]:smile:")
@example(name="[bold][bold][@click=app.quit]", prompt="[")  # eval's title split this id
def test_trained_runs_and_prompts(trained: Path, name: str, prompt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        shutil.copytree(trained / "tiny", runs / name)
        rd = ("--runs-dir", runs)
        echoed(invoke("eval", name, *rd), name, codes=(0,))
        echoed(invoke("inspect", name, "--length", "20", *rd), name, codes=(0,))
        html = Path(tmp) / f"{name}.html"
        echoed(invoke("inspect", name, "--length", "20", "--html", html, *rd), str(html), (0,))
        result = invoke("generate", "--run", name, "--prompt", prompt, "-n", "5", *rd)
        echoed(result, prompt, codes=(0,))
        assert result.stdout.startswith(prompt)
        result = invoke("generate", "--run", name, "--prompt", prompt, "-n", "3",
                        "--show-probs", *rd)  # fmt: skip
        echoed(result, prompt, codes=(0,))


def test_training_display_shows_a_markup_run_id(tmp_path: Path) -> None:
    """The live display of ``llmv0 train`` (tui/cli/console.py) names the run as typed."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    name = "[bold]x :smile: [link=file:y]"
    result = invoke(
        "train", "--run-id", name, "--runs-dir", tmp_path / "runs", "--max-steps", "2",
        "--set", f"data_file={corpus}", "--set", "seq_length=16", "--set", "batch_size=4",
        "--set", "hidden_dim=8", "--set", "embedding_dim=8", "--set", "num_threads=1",
    )  # fmt: skip
    echoed(result, f"run {name}:", codes=(0,))
    assert str(tmp_path / "runs" / name) in result.output
    echoed(result, f"Resume with: llmv0 train --resume {name}", codes=(0,))
