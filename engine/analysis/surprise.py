"""Per-token surprise: the bits a model spends on each token of a text, and its top guesses.

The text is scored exactly as ``engine.analysis.evaluate.evaluate`` scores a split: cut into
non-overlapping windows of ``seq_length`` inputs, each window from an empty context, so the
bits summed here are the loss ``llmv0 eval`` reports for the same text. Tokens after the last
full window (which evaluate leaves out) are scored in one shorter window, so every token but
the first gets a figure.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from engine.analysis import AnalysisError
from engine.text.tokenizer import Tokenizer

TOP_K = 5
LN2 = math.log(2)
# The hardest tenth is marked only when its mean exceeds the median by at least this many
# bits (each bit: the character was half as likely). Random digits cost a trained model
# 3.3-3.8 bits each (hardest tenth ~0.2 bits above the median): a tenth picked from noise.
SPREAD_BITS = 1.0


@dataclass(frozen=True)
class Surprise:
    """A scored text.

    Attributes:
        pieces: the text of each token (one character each for the char tokenizer).
        bits: bits spent on each token; NaN for the first (nothing predicts it).
        top: for each token, the model's TOP_K guesses for that position as
            (piece, probability), most likely first; empty for the first token.
    """

    pieces: list[str]
    bits: list[float]
    top: list[list[tuple[str, float]]]

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def scored(self) -> list[float]:
        """The bits of every scored token."""
        return [b for b in self.bits if not math.isnan(b)]

    @property
    def mean_bits(self) -> float:
        scored = self.scored
        return sum(scored) / max(len(scored), 1)

    def decile_threshold(self) -> float:
        """The bits at or above which a token is in the hardest tenth of this text."""
        scored = sorted(self.scored)
        if not scored:
            return math.inf
        return scored[min(len(scored) - 1, math.ceil(len(scored) * 0.9))]

    def median_bits(self) -> float:
        scored = sorted(self.scored)
        if not scored:
            return math.nan
        mid = len(scored) // 2
        return scored[mid] if len(scored) % 2 else (scored[mid - 1] + scored[mid]) / 2

    def hardest_tenth_mean(self) -> float:
        """The mean bits of the tokens at or above :meth:`decile_threshold`."""
        threshold = self.decile_threshold()
        hardest = [b for b in self.scored if b >= threshold]
        return sum(hardest) / len(hardest) if hardest else math.nan

    def hardest_threshold(self) -> float:
        """:meth:`decile_threshold` when the spread is real (the hardest tenth's mean is at
        least SPREAD_BITS above the median), else inf: nothing is marked as hardest."""
        if not self.scored or self.hardest_tenth_mean() - self.median_bits() < SPREAD_BITS:
            return math.inf
        return self.decile_threshold()


def _windows(n: int, seq_length: int) -> list[tuple[int, int]]:
    """(start, inputs) for evaluate's windows over ``n`` tokens, then the leftover one."""
    full = (n - 1) // seq_length
    spans = [(w * seq_length, seq_length) for w in range(full)]
    rest = n - 1 - full * seq_length
    if rest > 0:
        spans.append((full * seq_length, rest))
    return spans


@torch.no_grad()
def surprise_ids(
    model: nn.Module, tokenizer: Tokenizer, ids: list[int] | torch.Tensor, seq_length: int
) -> Surprise:
    """Score token ids ``ids`` with ``model`` (any model of the protocol) in windows of
    ``seq_length``. The model is put in eval mode and restored."""
    ids = torch.as_tensor(ids, dtype=torch.long).flatten().cpu()
    n = len(ids)
    device = next(model.parameters()).device
    pieces = [tokenizer.decode([int(i)]) for i in ids.tolist()]
    bits = [math.nan] * n
    top: list[list[tuple[str, float]]] = [[] for _ in range(n)]
    was_training = model.training
    model.eval()
    try:
        for start, length in _windows(n, seq_length):
            x = ids[start : start + length].to(device)[None]  # (1, T)
            y = ids[start + 1 : start + length + 1].to(device)  # (T,)
            logits, _ = model(x)
            logits = logits[0].float()  # (T, V)
            nats = F.cross_entropy(logits, y, reduction="none")  # (T,)
            probs, best = torch.softmax(logits, dim=-1).topk(min(TOP_K, logits.size(-1)))
            for t, (loss, p_row, i_row) in enumerate(
                zip(nats.tolist(), probs.tolist(), best.tolist(), strict=True)
            ):
                bits[start + 1 + t] = loss / LN2
                top[start + 1 + t] = [
                    (tokenizer.decode([i]), p) for i, p in zip(i_row, p_row, strict=True)
                ]
    finally:
        model.train(was_training)
    return Surprise(pieces=pieces, bits=bits, top=top)


def surprise(model: nn.Module, tokenizer: Tokenizer, text: str, seq_length: int) -> Surprise:
    """Score ``text``; characters the vocabulary lacks raise ValueError naming them."""
    missing = tokenizer.unknown(text)
    if missing:
        shown = "".join(sorted(set(missing)))[:20]
        raise AnalysisError(
            f"The text has characters this model never saw ({shown!r}); remove them or "
            "pick another text."
        )
    ids = tokenizer.encode(text)
    if len(ids) < 2:
        raise AnalysisError("The text is too short: give at least two characters.")
    return surprise_ids(model, tokenizer, ids, seq_length)


@dataclass(frozen=True)
class Ranked:
    """A piece of text (character or word), its mean bits and how often it occurred."""

    text: str
    bits: float
    count: int


def hardest_characters(result: Surprise, limit: int = 8, min_count: int = 1) -> list[Ranked]:
    """Distinct characters ranked by the mean bits spent on them, hardest first."""
    totals: dict[str, list[float]] = defaultdict(list)
    for piece, b in zip(result.pieces, result.bits, strict=True):
        if not math.isnan(b):
            totals[piece].append(b)
    ranked = [
        Ranked(piece, sum(v) / len(v), len(v)) for piece, v in totals.items() if len(v) >= min_count
    ]
    ranked.sort(key=lambda r: (-r.bits, r.text))
    return ranked[:limit]


WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def easiest_words(result: Surprise, limit: int = 8) -> list[Ranked]:
    """Words ranked by mean bits per character over their scored letters, easiest first.

    Only characters after a word's first count: the first letter of a word is a guess about
    which word comes, the rest is whether the model knows the word.
    """
    starts = []
    pos = 0
    for piece in result.pieces:
        starts.append(pos)
        pos += len(piece)
    by_char = [math.nan] * pos
    for s, piece, b in zip(starts, result.pieces, result.bits, strict=True):
        by_char[s + len(piece) - 1] = b
    totals: dict[str, list[float]] = defaultdict(list)
    for match in WORD.finditer(result.text):
        if match.end() - match.start() < 2:
            continue
        inner = [b for b in by_char[match.start() + 1 : match.end()] if not math.isnan(b)]
        if inner:
            totals[match.group()].append(sum(inner) / len(inner))
    ranked = [Ranked(word, sum(v) / len(v), len(v)) for word, v in totals.items()]
    ranked.sort(key=lambda r: (r.bits, r.text))
    return ranked[:limit]
