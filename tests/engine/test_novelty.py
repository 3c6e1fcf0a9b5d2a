"""Novelty check: suffix array order, the longest copied passage, the training split as text."""

from __future__ import annotations

import random

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.generate.novelty import NoveltyIndex, suffix_array, training_text
from engine.text.bpe import train_bpe
from engine.text.corpus import split_tokens
from engine.text.tokenizer import CharTokenizer


def _longest_copy_brute_force(sample: str, text: str) -> int:
    best = 0
    for i in range(len(sample)):
        for j in range(i + best + 1, len(sample) + 1):
            if sample[i:j] not in text:
                break
            best = j - i
    return best


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abc\n😀", max_size=60))
def test_suffix_array_sorts_every_suffix(text: str) -> None:
    assert [text[i:] for i in suffix_array(text)] == sorted(text[i:] for i in range(len(text)))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcd", min_size=1, max_size=80), st.text(alphabet="abcde", max_size=30))
def test_longest_copy_matches_brute_force(text: str, sample: str) -> None:
    found = NoveltyIndex(text).longest_copy(sample)
    assert found.length == _longest_copy_brute_force(sample, text)
    if found.length:
        assert found.text == sample[found.sample_start : found.sample_start + found.length]
        assert text[found.train_start : found.train_start + found.length] == found.text


def test_finds_a_planted_copy() -> None:
    rng = random.Random(0)
    words = ["thou", "art", "lord", "sweet", "night", "love", "king", "death", "fair", "my"]
    train = "\n".join(
        " ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(3000)
    )
    start = 20_000
    planted = train[start : start + 120]
    sample = "Zyx qwv " + planted + " vqz Xyz"
    found = NoveltyIndex(train).longest_copy(sample)
    assert found.length >= 120 and planted in found.text
    assert found.sample_start <= 8
    assert train[found.train_start : found.train_start + found.length] == found.text
    assert found.train_line == train.count("\n", 0, found.train_start) + 1
    assert 0.8 < found.fraction_of(sample) <= 1


def test_nothing_in_common() -> None:
    found = NoveltyIndex("abcabc").longest_copy("xyz")
    assert (found.length, found.train_start, found.text) == (0, -1, "")
    assert NoveltyIndex("").longest_copy("abc").length == 0


def test_training_text_is_the_trainers_split() -> None:
    text = "To be, or not to be, that is the question. Déjà vu!\n" * 40
    for tok in (CharTokenizer.from_text(text), train_bpe(text, 300)):
        tokens = torch.tensor(tok.encode(text))
        expected = tok.decode(split_tokens(tokens, 0.1, 8).train.tolist())
        assert training_text(text, tok, 0.1) == expected
