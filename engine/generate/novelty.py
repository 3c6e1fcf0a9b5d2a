"""Novelty check: the longest passage of a sample copied verbatim from the training text.

:class:`NoveltyIndex` builds a suffix array of the training split once (prefix doubling with
numpy sorts: O(n log n) memory-light passes, about a second for Tiny Shakespeare's 1M
characters), then answers each sample in O(m log n): a two-pointer scan over the sample keeps
the longest window ``sample[i:j]`` that occurs in the training text, and "does this pattern
occur?" is a binary search over the sorted suffixes. The result says where in the training
text the passage comes from, so a user can tell creation from memorisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.text.tokenizer import Tokenizer


def suffix_array(text: str) -> np.ndarray:
    """Start offsets of the suffixes of ``text`` in sorted order (code point order)."""
    n = len(text)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    rank = np.unique(codes, return_inverse=True)[1].astype(np.int64)
    order = np.argsort(rank, kind="stable")
    k = 1
    while True:
        # Sort by (rank of the first k characters, rank of the next k); -1 past the end.
        second = np.full(n, -1, dtype=np.int64)
        if k < n:
            second[: n - k] = rank[k:]
        key = rank * (n + 1) + (second + 1)
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        new_sorted = np.concatenate(([0], np.cumsum(sorted_key[1:] != sorted_key[:-1])))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = new_sorted
        if new_sorted[-1] == n - 1 or k >= n:
            return order
        k *= 2


@dataclass(frozen=True)
class CopiedPassage:
    """The longest stretch of a sample found verbatim in the training text.

    Attributes:
        length: its length in characters (0 when no character of the sample occurs).
        sample_start: where it starts in the sample.
        train_start: where one occurrence starts in the training text (-1 when length is 0).
        text: the passage itself.
        train_line: 1-based line of the training text where that occurrence starts.
    """

    length: int
    sample_start: int
    train_start: int
    text: str
    train_line: int

    def fraction_of(self, sample: str) -> float:
        """The passage's share of the sample's characters."""
        return self.length / len(sample) if sample else 0.0


class NoveltyIndex:
    """A training text indexed for "longest copied passage" queries."""

    def __init__(self, train_text: str) -> None:
        self.text = train_text
        self.sa = suffix_array(train_text)

    def find(self, pattern: str) -> int:
        """An offset where ``pattern`` occurs in the training text, or -1."""
        text, sa, m = self.text, self.sa, len(pattern)
        lo, hi = 0, len(sa)
        while lo < hi:  # first suffix whose first m characters are >= pattern
            mid = (lo + hi) // 2
            start = int(sa[mid])
            if text[start : start + m] < pattern:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(sa):
            start = int(sa[lo])
            if text[start : start + m] == pattern:
                return start
        return -1

    def longest_copy(self, sample: str) -> CopiedPassage:
        """The longest substring of ``sample`` that occurs in the training text."""
        best_len, best_i, best_at = 0, 0, -1
        i = j = 0
        at = -1
        n = len(sample)
        # Invariant: sample[i:j] occurs in the text (at offset ``at`` when j > i).
        while j < n:
            found = self.find(sample[i : j + 1])
            if found >= 0:
                j += 1
                at = found
                if j - i > best_len:
                    best_len, best_i, best_at = j - i, i, at
            elif i < j:
                i += 1
            else:
                i += 1
                j += 1
        line = self.text.count("\n", 0, best_at) + 1 if best_at >= 0 else 0
        return CopiedPassage(
            length=best_len,
            sample_start=best_i,
            train_start=best_at,
            text=sample[best_i : best_i + best_len],
            train_line=line,
        )


def training_text(text: str, tokenizer: Tokenizer, val_fraction: float) -> str:
    """The training split of a corpus as text, exactly as the trainer splits its tokens.

    The split is by tokens (the first ``1 - val_fraction`` of them), so for BPE the corpus is
    encoded once to find where the training split ends.
    """
    if getattr(tokenizer, "kind", "") == "char":
        return text[: len(text) - int(len(text) * val_fraction)]
    ids = tokenizer.encode(text)
    n_train = len(ids) - int(len(ids) * val_fraction)
    return tokenizer.decode(ids[:n_train])
