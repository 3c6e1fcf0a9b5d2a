"""The hardest tenth is marked only when the bits really spread (issue 24, item 4)."""

from __future__ import annotations

import math
import random

from engine.analysis.surprise import SPREAD_BITS, Surprise


def planted(bits: list[float]) -> Surprise:
    pieces = [str(i % 10) for i in range(len(bits) + 1)]
    return Surprise(pieces, [math.nan, *bits], [[] for _ in pieces])


def test_flat_bits_have_no_hardest_tenth() -> None:
    # Random digits: a model that has learnt the digit distribution spends 3.3-3.8 bits on each,
    # so which tenth is "hardest" is noise.
    rng = random.Random(0)
    flat = planted([rng.uniform(3.3, 3.8) for _ in range(300)])
    assert flat.decile_threshold() < 3.8  # a tenth exists by rank ...
    assert flat.hardest_threshold() == math.inf  # ... but it is not marked
    spread = flat.hardest_tenth_mean() - flat.median_bits()
    assert 0.0 < spread < SPREAD_BITS


def test_a_real_spread_marks_the_planted_hard_tenth() -> None:
    rng = random.Random(1)
    bits = [rng.uniform(0.5, 1.5) for _ in range(270)] + [rng.uniform(6.0, 9.0) for _ in range(30)]
    rng.shuffle(bits)
    result = planted(bits)
    threshold = result.hardest_threshold()
    assert 5.9 < threshold <= 9.0
    assert sum(b >= threshold for b in result.scored) == 30  # exactly the planted ones


def test_a_spread_just_under_the_margin_is_not_marked() -> None:
    # 90 tokens at 2 bits, 10 at 2 + SPREAD_BITS - 0.01: the hardest tenth's mean exceeds the
    # median by less than the margin.
    result = planted([2.0] * 90 + [2.0 + SPREAD_BITS - 0.01] * 10)
    assert result.hardest_threshold() == math.inf
    result = planted([2.0] * 90 + [2.0 + SPREAD_BITS + 0.01] * 10)
    assert result.hardest_threshold() == 2.0 + SPREAD_BITS + 0.01
