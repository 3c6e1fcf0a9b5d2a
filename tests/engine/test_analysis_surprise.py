"""Surprise, embeddings and the learning timeline: figures that must match known answers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from engine.analysis.embeddings import char_class, embedding_map, pca_2d
from engine.analysis.evaluate import evaluate
from engine.analysis.surprise import easiest_words, hardest_characters, surprise
from engine.analysis.timeline import PASSAGE_TOKENS, read_timeline
from engine.models.gpt import GPT
from engine.models.lstm import CharLSTM
from engine.run.folder import TIMELINE_FILE
from engine.text.tokenizer import CharTokenizer

TEXT = "ROMEO: But soft, what light through yonder window breaks?\nJULIET: O Romeo!\n" * 3


@pytest.mark.parametrize("kind", ["gpt", "lstm"])
def test_surprise_sums_to_what_eval_reports(kind: str) -> None:
    torch.manual_seed(0)
    tok = CharTokenizer.from_text(TEXT)
    seq = 16
    model = (
        GPT(tok.vocab_size, block_size=seq, n_layer=2, n_head=2, n_embd=16)
        if kind == "gpt"
        else CharLSTM(tok.vocab_size, embedding_dim=8, hidden_dim=16, num_layers=2)
    )
    text = TEXT[: 9 * seq + 1]  # exactly evaluate's windows
    result = surprise(model, tok, text, seq)
    metrics = evaluate(model, torch.tensor(tok.encode(text)), seq)
    assert math.isnan(result.bits[0]) and len(result.scored) == metrics.tokens == 9 * seq
    assert result.mean_bits == pytest.approx(metrics.bits_per_char, rel=1e-5)
    assert sum(result.scored) * math.log(2) == pytest.approx(metrics.loss * metrics.tokens, 1e-5)
    # the top guesses are probabilities, most likely first, and the bits agree with them
    guesses = result.top[5]
    assert len(guesses) == 5 and guesses[0][1] >= guesses[-1][1]
    assert sum(p for _, p in guesses) <= 1.0 + 1e-6


def test_leftover_characters_are_scored_too() -> None:
    tok = CharTokenizer.from_text(TEXT)
    model = CharLSTM(tok.vocab_size, embedding_dim=8, hidden_dim=16)
    result = surprise(model, tok, TEXT[:40], 16)
    assert len(result.scored) == 39


def test_rankings_find_the_planted_hard_character_and_easy_word() -> None:
    from engine.analysis.surprise import Surprise

    pieces = list("the cat saw the dog")
    bits = [math.nan] + [1.0] * (len(pieces) - 1)
    bits[pieces.index("g")] = 9.0  # the hardest character
    for i in (1, 2, 13, 14):  # "he" of both "the": nearly free
        bits[i] = 0.1
    result = Surprise(pieces, bits, [[] for _ in pieces])
    assert hardest_characters(result)[0].text == "g"
    words = easiest_words(result)
    assert words[0].text == "the" and words[0].count == 2
    assert words[0].bits == pytest.approx(0.1)
    assert result.decile_threshold() == 9.0


def test_unknown_characters_are_a_clear_error() -> None:
    tok = CharTokenizer.from_text("abc ")
    model = CharLSTM(tok.vocab_size, embedding_dim=4, hidden_dim=4)
    with pytest.raises(ValueError, match="never saw"):
        surprise(model, tok, "abz", 8)


def test_pca_of_a_hand_made_table_finds_its_axes() -> None:
    d1 = torch.tensor([1.0, 1.0, 0.0, 0.0]) / math.sqrt(2)
    d2 = torch.tensor([0.0, 0.0, 0.6, -0.8])
    a = torch.tensor([-3.0, -1.0, 1.0, 3.0, 0.0, 0.0])  # large spread along d1
    b = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, -1.0])  # small spread along d2
    table = a[:, None] * d1 + b[:, None] * d2 + torch.tensor([5.0, 0.0, 2.0, 1.0])
    proj = pca_2d(table)
    assert torch.allclose(proj.axes[0], d1, atol=1e-5)
    assert torch.allclose(proj.axes[1], -d2, atol=1e-5)  # sign: largest loading positive
    assert proj.explained[0] == pytest.approx(20 / 22, abs=1e-5)
    assert sum(proj.explained) == pytest.approx(1.0, abs=1e-5)
    coords = proj.apply(table)
    assert torch.allclose(coords[:, 0], a, atol=1e-4)


def test_embedding_map_labels_classes_and_trails() -> None:
    tok = CharTokenizer.from_text("aB3,\nz")
    model = CharLSTM(tok.vocab_size, embedding_dim=6, hidden_dim=4)
    old = model.embedding.weight.detach().clone()
    result = embedding_map(model, tok, earlier=[old])
    kinds = {p.piece: (p.kind, p.upper) for p in result.points}
    assert kinds["a"] == ("vowel", False) and kinds["B"] == ("consonant", True)
    assert kinds["3"][0] == "digit" and kinds[","][0] == "punctuation"
    assert char_class("\n") == "space"
    # the same table as "earlier" sits exactly where the point is now
    assert result.trail[0][0] == pytest.approx((result.points[0].x, result.points[0].y))


def test_trainer_records_the_timeline_at_each_evaluation(make_config, tmp_path: Path) -> None:
    from engine.train.trainer import Trainer

    cfg = make_config(max_steps=80, eval_interval=20, learning_rate=0.02)
    trainer = Trainer(cfg, runs_dir=tmp_path / "runs", run_id="t")
    trainer.run()
    timeline = read_timeline(tmp_path / "runs" / "t")
    assert timeline is not None and timeline.steps == [20, 40, 60, 80]
    assert len(timeline.pieces) == PASSAGE_TOKENS + 1  # an LSTM reads it in one window
    first, last = (sum(row) / len(row) for row in (timeline.bits[0], timeline.bits[-1]))
    assert last < first  # the passage gets easier as the model learns


def test_timeline_keeps_the_newest_values_of_repeated_steps(tmp_path: Path) -> None:
    lines = [
        {"step": 10, "pieces": ["a", "b"], "bits": [3.0]},
        {"step": 20, "pieces": ["a", "b"], "bits": [2.0]},
        {"step": 20, "pieces": ["a", "b"], "bits": [1.5]},  # resumed from step 10
    ]
    text = "\n".join(json.dumps(x) for x in lines) + '\n{"step": 3'
    (tmp_path / TIMELINE_FILE).write_text(text)
    timeline = read_timeline(tmp_path)
    assert timeline is not None
    assert timeline.steps == [10, 20] and timeline.bits == [[3.0], [1.5]]
    assert read_timeline(tmp_path / "none") is None


def test_earlier_tables_come_from_kept_checkpoints(make_config, tmp_path: Path) -> None:
    from engine.analysis.embeddings import earlier_tables
    from engine.train.trainer import Trainer

    cfg = make_config(max_steps=20, eval_interval=10, keep_checkpoints=3)
    Trainer(cfg, runs_dir=tmp_path / "runs", run_id="k").run()
    (tables,) = earlier_tables(tmp_path / "runs" / "k")  # the oldest: step 10
    assert tables.shape == (len(set(Path(cfg.data_file).read_text())), cfg.embedding_dim)
    assert earlier_tables(None) == [] and earlier_tables(tmp_path) == []


def test_passages_start_at_a_line_and_stay_in_the_text() -> None:
    from engine.analysis.passages import passage

    text = "".join(f"line {n}\n" for n in range(200))
    assert passage(text, 20, position=0) == text[:20]
    assert passage(text, 20, position=10**6) == text[-20:]  # clamped
    for seed in range(5):
        chosen = passage(text, 20, seed=seed)
        assert len(chosen) == 20 and chosen in text and chosen.startswith("line ")
    assert passage("short", 20) == "short"
