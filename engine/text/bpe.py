"""BPETokenizer: byte-level byte-pair encoding trained on the corpus, saved inside checkpoints.

The base vocabulary is the 256 byte values of the UTF-8 text (lone surrogates pass through), so
any ``str`` encodes and ``decode(encode(text)) == text``. As in GPT-2, merges never cross
*pre-tokens* (letters with an optional leading space, digits, punctuation, whitespace; the
pattern ends in a catch-all), so no token glues one word's end to the next one's start.
Ids 0-255 are the bytes, 256+ the merges in the order learned (lower id = higher priority).
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from itertools import pairwise
from typing import Any

from engine.text.chunks import Check, no_check, pretokens_in_chunks

# GPT-2's split, written for the stdlib ``re`` ([^\W\d_] is "a letter"), plus a catch-all.
PRETOKEN_PATTERN = r"'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|_+|\s+(?!\S)|\s+|[\s\S]"
MIN_VOCAB = 256


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every non-overlapping occurrence of ``pair``, left to right, replaced."""
    out: list[int] = []
    i, n = 0, len(ids)
    a, b = pair
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """Byte-level BPE: ``merges[k]`` is the pair of ids that became id ``256 + k``."""

    kind = "bpe"

    def __init__(self, merges: Iterable[tuple[int, int]], pattern: str = PRETOKEN_PATTERN) -> None:
        self.merges: list[tuple[int, int]] = [(int(a), int(b)) for a, b in merges]
        self.pattern = pattern
        self._split = re.compile(pattern)
        self.ranks: dict[tuple[int, int], int] = {}
        self.vocab: list[bytes] = [bytes([i]) for i in range(256)]
        for k, (a, b) in enumerate(self.merges):
            new_id = MIN_VOCAB + k
            if not (0 <= a < new_id and 0 <= b < new_id):
                raise ValueError(f"merge {k} ({a}, {b}) refers to an id not yet defined")
            self.ranks[(a, b)] = new_id
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # --- encoding ---

    def _encode_word(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        ids = list(_utf8(word))
        ranks = self.ranks
        while len(ids) >= 2:
            # The adjacent pair learned earliest is merged first, as in training.
            best = min(pairwise(ids), key=lambda p: ranks.get(p, 1 << 62))
            new_id = ranks.get(best)
            if new_id is None:
                break
            ids = _merge(ids, best, new_id)
        if len(self._cache) < 200_000:  # bounded: adversarial input cannot exhaust memory
            self._cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; never raises for unknown characters (bytes cover all)."""
        out: list[int] = []
        for word in self._split.findall(text):
            out.extend(self._encode_word(word))
        return out

    def encode_chunks(self, text: str) -> Iterator[list[int]]:
        """The ids :meth:`encode` gives, a chunk of the text at a time (cut between
        pre-tokens, so the ids are the same), so that a long encoding can be stopped."""
        if self.pattern != PRETOKEN_PATTERN:  # the cuts are safe for this pattern only
            yield self.encode(text)
            return
        for words in pretokens_in_chunks(self._split, text):
            out: list[int] = []
            for word in words:
                out.extend(self._encode_word(word))
            yield out

    def unknown(self, text: str) -> list[str]:
        """Always empty: every character is made of bytes the vocabulary has."""
        return []

    # --- decoding ---

    def token_bytes(self, token_id: int) -> bytes:
        """The UTF-8 bytes of one token (possibly part of a multi-byte character)."""
        return self.vocab[token_id]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; invalid UTF-8 (only a model can produce it) becomes U+FFFD."""
        raw = b"".join(self.vocab[i] for i in ids)
        try:
            return raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return raw.decode("utf-8", "replace")

    def char_lengths(self) -> list[int]:
        """Characters each token contributes: its UTF-8 bytes that start a character.

        Over any encoded text these sum to ``len(text)``, which makes bits per character
        comparable with the char tokenizer.
        """
        return [sum(1 for byte in piece if byte & 0xC0 != 0x80) for piece in self.vocab]

    def preview(self) -> str:
        return f"byte-level BPE, {self.vocab_size} tokens (any UTF-8 text encodes)"

    # --- persistence ---

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "merges": [list(pair) for pair in self.merges],
            "pattern": self.pattern,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BPETokenizer:
        return cls([tuple(pair) for pair in data["merges"]], data.get("pattern", PRETOKEN_PATTERN))


def train_bpe(
    text: str, vocab_size: int, pattern: str = PRETOKEN_PATTERN, check: Check = no_check
) -> BPETokenizer:
    """Learn up to ``vocab_size - 256`` merges from ``text``.

    Each distinct pre-token is counted once with its frequency; each merge takes the most
    frequent adjacent pair, ties broken by the smaller pair of ids, so training is
    deterministic. Pair counts are updated incrementally (only the words holding the merged
    pair) with a lazy max-heap for the best pair (timing: docs/LOG.md, 2026-11-25).

    Training stops early when no adjacent pair occurs twice (a small corpus), so the
    tokenizer's ``vocab_size`` may be below the one asked for.

    ``check`` is called between chunks of the counting and between merges (a stop raises
    through it).

    Raises:
        ValueError: ``vocab_size`` is below 256 (the byte alphabet).
    """
    if vocab_size < MIN_VOCAB:
        raise ValueError(f"a byte-level BPE vocabulary needs at least 256 tokens, not {vocab_size}")
    counts: Counter[str] = Counter()
    split = re.compile(pattern)
    # The cuts between chunks are safe for the default pattern only.
    pieces = (
        pretokens_in_chunks(split, text) if pattern == PRETOKEN_PATTERN else [split.findall(text)]
    )
    for words in pieces:
        check()
        counts.update(words)
    words: list[list[int]] = [list(_utf8(w)) for w in counts]
    freqs: list[int] = list(counts.values())

    pair_counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for index, (ids, freq) in enumerate(zip(words, freqs, strict=True)):
        for pair in pairwise(ids):
            pair_counts[pair] += freq
            where[pair].add(index)
    # Max-heap by count, then the smaller pair; stale entries are skipped when popped.
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[int, int]] = []
    while len(merges) < vocab_size - MIN_VOCAB and heap:
        check()
        neg, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -neg:
            continue  # stale: the count changed since this entry was pushed
        if -neg < 2:
            break
        new_id = MIN_VOCAB + len(merges)
        merges.append(pair)
        changed: set[tuple[int, int]] = set()
        for index in where.pop(pair, ()):
            old = words[index]
            new = _merge(old, pair, new_id)
            if len(new) == len(old):
                continue  # the pair left this word in an earlier merge
            freq = freqs[index]
            for p in pairwise(old):
                pair_counts[p] -= freq
                changed.add(p)
            for p in pairwise(new):
                pair_counts[p] += freq
                where[p].add(index)
                changed.add(p)
            words[index] = new
        for p in changed:
            count = pair_counts[p]
            if count <= 0:
                pair_counts.pop(p, None)
            else:
                heapq.heappush(heap, (-count, p))
        pair_counts.pop(pair, None)
    return BPETokenizer(merges, pattern)
