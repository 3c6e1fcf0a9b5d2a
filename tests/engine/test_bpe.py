"""BPE tokenizer: exact round trips, training, persistence; bits per character across tokenizers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from engine.analysis.evaluate import evaluate
from engine.events import EvalCompleted, RunFinished
from engine.generate.decoding import SampleSettings
from engine.generate.sampling import generate
from engine.run.folder import load_for_inference
from engine.text.bpe import MIN_VOCAB, PRETOKEN_PATTERN, BPETokenizer, train_bpe
from engine.text.corpus import eval_windows
from engine.text.tokenizer import CharTokenizer, build_tokenizer, tokenizer_from_dict
from engine.train.trainer import Trainer

CORPUS = (
    "ROMEO: But soft, what light through yonder window breaks?\n"
    "JULIET: O Romeo, Romeo, wherefore art thou Romeo? Déjà vu — naïve café, 東京, 😀!\n"
    "Numbers 1234 and under_scores, tabs\tand  double  spaces.\n"
) * 20
SHAKESPEARE = Path(__file__).resolve().parents[2] / "data" / "shakespeare.txt"


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return train_bpe(CORPUS, 400)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_round_trip_is_exact_on_any_unicode_text(text: str) -> None:
    tok = _shared_bpe()
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert sum(tok.char_lengths()[i] for i in ids) == len(text)


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=50), st.integers(256, 330))
def test_round_trip_for_any_vocabulary_trained_on_any_text(text: str, vocab: int) -> None:
    tok = train_bpe(text * 3, vocab)
    assert tok.decode(tok.encode(text)) == text
    assert tok.vocab_size <= vocab


_CACHE: dict[str, BPETokenizer] = {}


def _shared_bpe() -> BPETokenizer:
    # Hypothesis dislikes function-scoped fixtures; train once per session instead.
    if "tok" not in _CACHE:
        _CACHE["tok"] = train_bpe(CORPUS, 400)
    return _CACHE["tok"]


def test_awkward_text_round_trips(bpe: BPETokenizer) -> None:
    for text in ["", "\x00", "\ud800 lone surrogate", "e\u0301", "🏳️‍🌈", "a" * 5000, "\r\n\t "]:
        assert bpe.decode(bpe.encode(text)) == text


def test_training_compresses_and_learns_whole_words(bpe: BPETokenizer) -> None:
    ids = bpe.encode(CORPUS)
    assert len(ids) < len(CORPUS.encode()) / 3
    pieces = {bpe.vocab[i] for i in range(MIN_VOCAB, bpe.vocab_size)}
    assert b" Romeo" in pieces and " 東京".encode() in pieces
    # Merges never cross a pre-token boundary (e.g. the end of a word and the next space).
    assert not any(p.endswith(b" ") and p.strip() for p in pieces)


def test_training_is_deterministic_and_stops_when_pairs_run_out() -> None:
    assert train_bpe(CORPUS, 300).merges == train_bpe(CORPUS, 300).merges
    tiny = train_bpe("abab", 1000)
    assert tiny.vocab_size < 1000 and tiny.decode(tiny.encode("abab ba")) == "abab ba"
    with pytest.raises(ValueError, match="at least 256"):
        train_bpe(CORPUS, 255)


def test_saved_and_loaded_through_a_checkpoint(bpe: BPETokenizer, tmp_path: Path) -> None:
    path = tmp_path / "tok.pt"
    torch.save({"tokenizer": bpe.to_dict()}, path)
    data = torch.load(path, weights_only=True)["tokenizer"]
    again = tokenizer_from_dict(data)
    assert isinstance(again, BPETokenizer)
    assert again.merges == bpe.merges and again.pattern == PRETOKEN_PATTERN
    assert again.encode(CORPUS) == bpe.encode(CORPUS)
    with pytest.raises(ValueError):
        BPETokenizer([(300, 1)])  # refers to an id not yet defined


def test_build_tokenizer_by_config_name() -> None:
    assert isinstance(build_tokenizer("char", CORPUS), CharTokenizer)
    assert build_tokenizer("bpe", CORPUS, 300).vocab_size == 300
    assert build_tokenizer("bpe", CORPUS, 300).unknown("any ☃ text") == []


@pytest.mark.skipif(not SHAKESPEARE.exists(), reason="data/shakespeare.txt not present")
def test_trains_on_tiny_shakespeare_at_1024() -> None:
    # Its speed is a benchmark's figure (bench/bpe_vs_char.py prints it with a reference
    # matmul), not a wall-clock bound here: a loaded machine is several-fold slower.
    text = SHAKESPEARE.read_text(encoding="utf-8")
    tok = train_bpe(text, 1024)
    assert tok.vocab_size == 1024
    assert tok.decode(tok.encode(text)) == text


# ----- bits per character, comparable across tokenizers -----


class CharOracle(nn.Module):
    """Gives every character of the evaluated text probability ``p``.

    A target token spelling k characters gets probability p**k (the rest of the mass is
    spread over the other tokens), so the whole text has probability p**characters whatever
    the tokenizer. It reads the targets ``evaluate`` will score, window batch by batch.
    """

    def __init__(self, targets: torch.Tensor, char_lengths: list[int], p: float) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.targets = targets
        self.lengths = torch.tensor(char_lengths, dtype=torch.float64)
        self.vocab = len(char_lengths)
        self.p = p
        self.cursor = 0

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        y = self.targets[self.cursor : self.cursor + idx.size(0)]  # (B, T)
        self.cursor += idx.size(0)
        target_prob = self.p ** self.lengths[y]  # (B, T)
        probs = ((1 - target_prob) / (self.vocab - 1))[..., None].expand(*y.shape, self.vocab)
        probs = probs.clone().scatter(-1, y[..., None], target_prob[..., None])
        return probs.log().float(), None


def _bits_per_char(tokenizer, text: str, p: float, seq_length: int) -> tuple[float, float]:
    tokens = torch.tensor(tokenizer.encode(text))
    _, targets = eval_windows(tokens, seq_length)
    oracle = CharOracle(targets, tokenizer.char_lengths(), p)
    metrics = evaluate(
        oracle, tokens, seq_length, batch_size=3, char_lengths=tokenizer.char_lengths()
    )
    return metrics.bits_per_char, metrics.loss / math.log(2)


@pytest.mark.parametrize("p", [0.5, 0.8, 0.31])
def test_bits_per_char_is_the_same_for_char_and_bpe_given_the_same_probability(p: float) -> None:
    text = CORPUS[:2000]
    char_bpc, char_per_token = _bits_per_char(CharTokenizer.from_text(text), text, p, 16)
    bpe_bpc, bpe_per_token = _bits_per_char(train_bpe(CORPUS, 400), text, p, 16)
    assert char_bpc == pytest.approx(-math.log2(p), rel=1e-6)
    assert bpe_bpc == pytest.approx(char_bpc, rel=1e-6)
    assert char_per_token == pytest.approx(char_bpc, rel=1e-6)  # one char per token
    assert bpe_per_token > 1.5 * bpe_bpc  # loss / ln 2 would overstate BPE's bits per char


# ----- both models train and generate with BPE -----


@pytest.mark.parametrize("model", ["lstm", "gpt"])
def test_both_models_train_resume_and_generate_with_bpe(
    make_config, runs_dir: Path, recorder, model: str
) -> None:
    cfg = make_config(
        tokenizer="bpe", bpe_vocab_size=300, model=model, n_layer=1, n_head=2, n_embd=16,
        max_steps=4, eval_interval=2,
    )  # fmt: skip
    end = Trainer(cfg, runs_dir=runs_dir, run_id="b").run(recorder)
    assert isinstance(end, RunFinished), end
    evals = recorder.of(EvalCompleted)
    assert evals and all(e.bits_per_char < e.val_loss / math.log(2) for e in evals)
    net, tok, saved = load_for_inference("b", runs_dir)
    assert isinstance(tok, BPETokenizer) and saved.tokenizer == "bpe"
    text = generate(net, tok, "ROMEO: ☃", SampleSettings(length=25, seed=1))
    assert len(text) == 25  # length counts characters, not tokens
    resumed = Trainer(cfg.model_copy(update={"max_steps": 6}), runs_dir=runs_dir, resume="b")
    assert isinstance(resumed.run(), RunFinished)
