"""CharTokenizer: round trips, the unknown-character error, serialisation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.text.tokenizer import CharTokenizer, UnknownCharactersError, tokenizer_from_dict


def test_vocab_is_sorted_distinct_characters() -> None:
    tok = CharTokenizer.from_text("hello\nworld")
    assert tok.chars == sorted(set("hello\nworld"))
    assert tok.vocab_size == 8
    assert tok.encode("hello") == [tok.stoi[c] for c in "hello"]


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_round_trip(text: str) -> None:
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_unknown_characters_listed_once_each_in_first_seen_order() -> None:
    tok = CharTokenizer.from_text("abc ")
    with pytest.raises(UnknownCharactersError) as info:
        tok.encode("a xyzzy x!")
    assert info.value.chars == ["x", "y", "z", "!"]
    message = str(info.value)
    assert "4 character(s)" in message
    for c in "xyz!":
        assert message.count(repr(c)) == 1
    assert "the vocabulary is:  abc" in message


def test_to_dict_from_dict() -> None:
    tok = CharTokenizer.from_text("To be, or not to be\n")
    data = tok.to_dict()
    assert data == {"kind": "char", "chars": "".join(tok.chars)}
    again = tokenizer_from_dict(data)
    assert again.chars == tok.chars
    assert again.encode("be or") == tok.encode("be or")
    with pytest.raises(ValueError, match="unknown tokenizer kind"):
        tokenizer_from_dict({"kind": "bpe", "chars": "ab"})


def test_empty_vocabulary_is_refused() -> None:
    with pytest.raises(ValueError):
        CharTokenizer.from_text("")
