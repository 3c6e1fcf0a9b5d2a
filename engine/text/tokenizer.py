"""Tokenizers behind one small protocol: CharTokenizer here, BPETokenizer in engine/bpe.py.

Both are built from the corpus and saved inside checkpoints as plain dicts
(:func:`tokenizer_from_dict` rebuilds either). Unknown-character policy: the char tokenizer
raises :class:`UnknownCharactersError` listing characters outside its vocabulary, so a prompt
never silently changes; the byte-level BPE tokenizer has no unknown characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal, Protocol

from engine.errors import UserError
from engine.text.bpe import BPETokenizer, train_bpe
from engine.text.chunks import Check, char_chunks, no_check


class UnknownCharactersError(UserError, ValueError):
    """Text contains characters the model never saw; ``chars`` lists them once each."""

    def __init__(self, chars: list[str], vocab_preview: str) -> None:
        self.chars = chars
        shown = ", ".join(repr(c) for c in chars[:20])
        more = f" and {len(chars) - 20} more" if len(chars) > 20 else ""
        super().__init__(
            f"The prompt contains {len(chars)} character(s) the model's vocabulary does not "
            f"have: {shown}{more}. Remove or replace them; the vocabulary is: {vocab_preview}"
        )


class Tokenizer(Protocol):
    """What the trainer, the samplers, evaluation and checkpoints need from a tokenizer."""

    kind: str

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def encode_chunks(self, text: str) -> Iterator[list[int]]:
        """The ids of ``encode(text)``, a chunk at a time (a long corpus stays stoppable)."""
        ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` that cannot be encoded (first-seen order)."""
        ...

    def token_bytes(self, token_id: int) -> bytes:
        """UTF-8 bytes of one token, for streaming decoders (may be part of a character)."""
        ...

    def char_lengths(self) -> list[int]:
        """Characters each token id contributes to a text (for bits per character)."""
        ...

    def preview(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class CharTokenizer:
    """Maps each distinct character of a corpus to an id, in sorted character order."""

    kind = "char"

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: list[str] = sorted(set(chars))
        if not self.chars:
            raise ValueError("a tokenizer needs at least one character")
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str, check: Check = no_check) -> CharTokenizer:
        """The vocabulary of every character in ``text`` (``check`` between chunks)."""
        chars: set[str] = set()
        for chunk in char_chunks(text):
            check()
            chars.update(chunk)
        return cls(chars)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` outside the vocabulary, in first-seen order."""
        return list(dict.fromkeys(c for c in text if c not in self.stoi))

    def encode(self, text: str) -> list[int]:
        """Ids of each character; raises UnknownCharactersError listing unknown ones."""
        missing = self.unknown(text)
        if missing:
            raise UnknownCharactersError(missing, self.preview())
        return [self.stoi[c] for c in text]

    def encode_chunks(self, text: str) -> Iterator[list[int]]:
        """The ids of :meth:`encode`, a chunk at a time; raises UnknownCharactersError
        listing the unknown characters of the first chunk that has any."""
        stoi = self.stoi
        for chunk in char_chunks(text):
            try:
                yield [stoi[c] for c in chunk]
            except KeyError:
                raise UnknownCharactersError(self.unknown(chunk), self.preview()) from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def token_bytes(self, token_id: int) -> bytes:
        return self.chars[token_id].encode("utf-8", "surrogatepass")

    def char_lengths(self) -> list[int]:
        """One character per token."""
        return [1] * len(self.chars)

    def preview(self) -> str:
        """The vocabulary as one printable line (newline shown as \\n)."""
        return "".join(self.chars).encode("unicode_escape").decode("ascii")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        return cls(data["chars"])


def build_tokenizer(
    kind: Literal["char", "bpe"], text: str, bpe_vocab_size: int = 1024, check: Check = no_check
) -> CharTokenizer | BPETokenizer:
    """The tokenizer a run's config asks for, built from the corpus ``text`` (``check``
    between chunks of the work)."""
    if kind == "char":
        return CharTokenizer.from_text(text, check)
    if kind == "bpe":
        return train_bpe(text, bpe_vocab_size, check=check)
    raise ValueError(f"unknown tokenizer {kind!r}; expected 'char' or 'bpe'")


def tokenizer_from_dict(data: dict[str, Any]) -> CharTokenizer | BPETokenizer:
    """Rebuild the tokenizer stored in a checkpoint."""
    kind = data.get("kind")
    if kind == "char":
        return CharTokenizer.from_dict(data)
    if kind == "bpe" and isinstance(data.get("merges"), list):
        return BPETokenizer.from_dict(data)
    if kind == "bpe":
        raise ValueError("unknown tokenizer kind layout in checkpoint: 'bpe' without 'merges'")
    raise ValueError(f"unknown tokenizer kind {kind!r} in checkpoint")
