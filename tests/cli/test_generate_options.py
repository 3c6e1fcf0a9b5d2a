"""``llmv0 generate`` options: strategies, prompt files, stop strings, samples, probs, novelty."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import tui.shared.cli_options
from tui.cli.generate import PROB_STYLES, prob_style, unescape
from tui.cli.main import app

runner = CliRunner()

TINY_SETS = [
    "seq_length=16", "batch_size=8", "embedding_dim=16", "hidden_dim=32", "eval_interval=5",
    "learning_rate=0.01", "sample_length=10", "device=cpu", "num_threads=1",
]  # fmt: skip


def _train(corpus: Path, runs_dir: Path, run_id: str, *extra: str) -> None:
    args = ["train", "--max-steps", "10", "--run-id", run_id, "--runs-dir", str(runs_dir)]
    for item in [f"data_file={corpus}", *TINY_SETS, *extra]:
        args += ["--set", item]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture
def gen(corpus: Path, runs_dir: Path):
    """``gen(*args, run="r1")``: run ``llmv0 generate`` on a freshly trained tiny run."""
    _train(corpus, runs_dir, "r1")

    def invoke(*args: str, run: str = "r1"):
        base = ["generate", "--run", run, "--runs-dir", str(runs_dir), "--prompt", "ROMEO:"]
        return runner.invoke(app, [*base, *args], catch_exceptions=False)

    return invoke


def _text(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout.removeprefix("ROMEO:").removesuffix("\n")


def test_beam_is_deterministic_and_width_one_is_greedy(gen) -> None:
    beam = _text(gen("--strategy", "beam", "--beams", "3", "-n", "30"))
    assert len(beam) == 30
    assert _text(gen("--strategy", "beam", "--beams", "3", "-n", "30")) == beam
    greedy = _text(gen("--strategy", "greedy", "-n", "30"))
    assert _text(gen("--strategy", "beam", "--beams", "1", "-n", "30")) == greedy
    assert _text(gen("--temperature", "0", "-n", "30")) == greedy


def test_sampler_options_change_the_text_reproducibly(gen) -> None:
    plain = _text(gen("-n", "60", "--temperature", "1.5"))
    shaped = ["-n", "60", "--temperature", "1.5", "--min-p", "0.2", "--repetition-penalty", "1.5"]
    assert _text(gen(*shaped)) == _text(gen(*shaped))
    assert _text(gen(*shaped)) != plain


def test_prompt_file(gen, tmp_path: Path, runs_dir: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("JULIET: O Romeo", encoding="utf-8")
    base = ["generate", "--run", "r1", "--runs-dir", str(runs_dir), "-n", "20"]
    from_file = runner.invoke(app, [*base, "--prompt-file", str(path)])
    inline = runner.invoke(app, [*base, "--prompt", "JULIET: O Romeo"])
    assert from_file.exit_code == 0 and from_file.stdout == inline.stdout
    assert from_file.stdout.startswith("JULIET: O Romeo")
    both = runner.invoke(app, [*base, "--prompt", "x", "--prompt-file", str(path)])
    assert both.exit_code == 2 and "not both" in both.stderr
    missing = runner.invoke(app, [*base, "--prompt-file", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "does not exist" in " ".join(missing.stderr.split())


def test_stop_string_with_escapes(gen) -> None:
    text = _text(gen("-n", "300", "--stop", "\\n", "--temperature", "1.0"))
    assert "\n" not in text and len(text) < 300


def test_num_samples_are_the_single_runs_with_successive_seeds(gen) -> None:
    many = gen("-n", "20", "--num-samples", "3", "--sample-seed", "5")
    assert many.exit_code == 0
    assert many.stdout.count("--- sample ") == 3
    for i, seed in enumerate((5, 6, 7)):
        single = _text(gen("-n", "20", "--sample-seed", str(seed)))
        assert f"--- sample {i + 1}/3 (seed {seed}) ---\nROMEO:{single}\n" in many.stdout


def test_num_samples_with_beam_lists_the_best_hypotheses(gen) -> None:
    result = gen("--strategy", "beam", "--beams", "4", "-N", "2", "-n", "15")
    assert result.exit_code == 0 and result.stdout.count("score ") == 2
    refused = gen("--strategy", "greedy", "-N", "2")
    assert refused.exit_code == 2 and "same text" in refused.stderr
    too_many = gen("--strategy", "beam", "--beams", "2", "-N", "3")
    assert too_many.exit_code == 2


def test_show_probs_candidates_and_novelty(gen) -> None:
    plain = gen("-n", "40")
    shown = gen("-n", "40", "--show-probs", "--candidates", "5", "--novelty")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == plain.stdout  # colours only, never other text, on stdout
    report = " ".join(shown.stderr.split())
    assert "next character:" in report and report.count("%") >= 5
    assert "novelty: longest passage copied from the training text:" in report
    assert "probability the model gave each character" in report


def test_bpe_run_generates_exact_character_counts(corpus: Path, runs_dir: Path) -> None:
    _train(corpus, runs_dir, "b", "tokenizer=bpe", "bpe_vocab_size=300")
    base = ["generate", "--run", "b", "--runs-dir", str(runs_dir), "-n", "33"]
    result = runner.invoke(app, [*base, "--prompt", "Wherefore ☃", "--novelty"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout) == len("Wherefore ☃") + 33 + 1  # any UTF-8 prompt works
    beam = runner.invoke(app, [*base, "--strategy", "beam", "--beams", "2"])
    assert beam.exit_code == 0 and len(beam.stdout) == 1 + 33 + 1


def test_helpers() -> None:
    assert unescape(r"\n\nJULIET:\t\\") == "\n\nJULIET:\t\\"
    assert unescape(r"a\qb") == r"a\qb"
    assert prob_style(0.95) == PROB_STYLES[0][1]
    assert prob_style(0.01) == PROB_STYLES[-1][1]
    assert [prob_style(p) for p in (0.6, 0.3, 0.1)] == [s for _, s in PROB_STYLES[1:4]]


def test_eval_reports_bits_per_character_for_bpe(corpus: Path, runs_dir: Path) -> None:
    _train(corpus, runs_dir, "b", "tokenizer=bpe", "bpe_vocab_size=300")
    result = runner.invoke(app, ["eval", "b", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    rows = dict(
        (" ".join(line.split()[:-1]), line.split()[-1])
        for line in result.stdout.splitlines()
        if line.split() and line.split()[-1][:1].isdigit()
    )
    loss = float(rows["loss (nats/token)"])
    tokens = int(rows["tokens scored"].replace(",", ""))
    chars = int(rows["characters scored"].replace(",", ""))
    assert chars > tokens  # BPE tokens spell several characters
    expected = loss * tokens / chars / math.log(2)
    assert float(rows["bits per character"]) == pytest.approx(expected, rel=1e-3)


def test_show_probs_colours_characters_on_a_terminal(gen, monkeypatch) -> None:
    plain = gen("-n", "40").stdout
    monkeypatch.setattr(
        tui.shared.cli_options, "out", Console(force_terminal=True, color_system="256")
    )
    coloured = gen("-n", "40", "--show-probs").stdout
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
