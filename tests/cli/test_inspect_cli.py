"""``llmv0 inspect``: every view on tiny trained runs, plain when piped, HTML, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.config.schema import RunConfig
from engine.train.trainer import Trainer
from tui.cli.main import app

runner = CliRunner()
TEXT = (
    'ROMEO: He said "come here" (softly), and she came.\n'
    "JULIET: O Romeo, Romeo, wherefore art thou Romeo?\n"
) * 30


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GPT run and an LSTM run, 40 steps each, evaluated every 20 (two timeline rows)."""
    root = tmp_path_factory.mktemp("inspect")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    for model in ("gpt", "lstm"):
        cfg = RunConfig(
            model=model, data_file=str(corpus), seq_length=32, batch_size=8, n_layer=2,
            n_head=2, n_embd=16, embedding_dim=8, hidden_dim=16, max_steps=40,
            eval_interval=20, sample_length=0, device="cpu", num_threads=1,
        )  # fmt: skip
        Trainer(cfg, runs_dir=root / "runs", run_id=model).run()
    return root / "runs"


def inspect(runs: Path, *args: str):
    return runner.invoke(app, ["inspect", *args, "--runs-dir", str(runs)])


def test_surprise_plain_shows_marks_guesses_and_rankings(runs: Path) -> None:
    result = inspect(runs, "gpt", "--length", "60", "--cursor", "7")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "59 tokens scored" in out and "at 7:" in out
    assert "hardest characters" in out and "easiest words" in out
    assert "\x1b[" not in out  # piped: no escape codes, marks instead
    lines = out.splitlines()
    text_row = next(i for i, line in enumerate(lines) if line.startswith("ROMEO: He"))
    marks = lines[text_row + 1]
    assert marks[7] == "|" and set(marks) <= set(" .:-=#^|")


def test_attention_names_every_head(runs: Path) -> None:
    result = inspect(runs, "gpt", "--view", "attention", "--layer", "1", "--head", "1")
    assert result.exit_code == 0, result.output
    assert "layer 1 head 1" in result.output
    for head in ("L0H0", "L0H1", "L1H0", "L1H1"):
        assert head in result.output


def test_cells_rank_units_by_feature(runs: Path, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text(TEXT[:300], encoding="utf-8")
    result = inspect(runs, "lstm", "--view", "cells", "--text", str(text), "--feature",
                     "inside quotes")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "inside quotes" in result.output and "unit L0 #" in result.output


def test_embeddings_and_timeline(runs: Path) -> None:
    result = inspect(runs, "lstm", "--view", "embeddings")
    assert result.exit_code == 0, result.output
    assert "PC1" in result.output and "R" in result.output
    # the baseline, and the LSTM's output matrix mapped below its embedding
    assert "a random table of this shape would explain" in result.output
    assert "output matrix: PC1" in result.output and "nearest by cosine" in result.output
    result = inspect(runs, "gpt", "--view", "timeline")
    assert result.exit_code == 0, result.output
    assert "2 evaluations" in result.output
    assert any(line.strip().startswith("20 ") for line in result.output.splitlines())


def test_html_is_self_contained(runs: Path, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("<b>ROMEO</b> & JULIET: come here, come here.\n" * 2, encoding="utf-8")
    page = tmp_path / "view.html"
    result = inspect(runs, "gpt", "--text", str(text), "--html", str(page))
    # '<', '>' and '&' ... are characters the corpus never had: a clear error, no page
    assert result.exit_code == 2 and "never saw" in result.output and not page.exists()
    text.write_text("ROMEO: come here, come here, O Romeo.\n" * 2, encoding="utf-8")
    result = inspect(runs, "gpt", "--text", str(text), "--html", str(page))
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "background-color: #" in html
    assert "<script" not in html and "http" not in html and "ROMEO" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gpt", "--view", "nope"], "--view must be one of"),
        (["lstm", "--view", "attention"], "GPT view"),
        (["gpt", "--view", "cells"], "LSTM view"),
        (["gpt", "--view", "attention", "--layer", "9"], "out of range"),
        (["gpt", "--text", "/no/such/file"], "Cannot read --text"),
        (["missing-run"], "No run or checkpoint"),
    ],
)
def test_bad_input_is_one_clear_paragraph(runs: Path, args: list[str], message: str) -> None:
    result = inspect(runs, *args)
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_html_escapes_user_text() -> None:
    from rich.text import Text

    from tui.cli.inspect_html import render_html

    page = render_html("a <title> & more", [Text("<script>alert(1)</script> & [bold]x[/]")])
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "[bold]x[/]" in page  # markup in the text stays text
    assert "<title>a &lt;title&gt; &amp; more</title>" in page
