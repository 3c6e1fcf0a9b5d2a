"""Inspect's words and columns (issue 24, item 7 and the surprise part of item 4): unit ids that
line up, probabilities never printed as 0%, the hardest-tenth marks only on a real spread, and
a space class that reads on the HTML page's white."""

from __future__ import annotations

import math
import random
import re

import pytest
import torch
from rich.text import Text

from engine.analysis.cells import CellStates, UnitMatch
from engine.analysis.surprise import Surprise
from tui.shared import inspect_render as r
from tui.shared import inspect_render_models as rm


def cells_of(hidden_dim: int, layers: int = 2) -> CellStates:
    zeros = torch.zeros(4, layers * hidden_dim)
    return CellStates(text="abcd", h=zeros, c=zeros, hidden_dim=hidden_dim)


def test_three_digit_unit_ids_keep_their_own_column() -> None:
    cells = cells_of(hidden_dim=256)
    ranked = [
        UnitMatch(102, "position in line", 0.84),
        UnitMatch(256 + 255, "inside parentheses", -0.7),
        UnitMatch(3, "after newline", 0.5),
    ]
    lines = rm.units_text(cells, ranked, selected=0).plain.splitlines()
    assert "L0 #102 " in lines[1] and "#102position" not in lines[1]
    assert "L1 #255 " in lines[2]
    # every row's feature and r start in the same column as the header's
    header = lines[0]
    for line in lines[1:]:
        assert line.index(line.split()[2]) == header.index("tracks")
        assert line.rstrip()[-5:] in ("+0.84", "-0.70", "+0.50")
        assert len(line.rstrip()) == len(lines[1].rstrip())


def test_four_digit_unit_ids_too() -> None:
    cells = cells_of(hidden_dim=2048)
    ranked = [UnitMatch(2048 + 1023, "uppercase word", 0.9), UnitMatch(7, "speaker name", 0.4)]
    lines = rm.units_text(cells, ranked, selected=1).plain.splitlines()
    assert re.match(r"^ L1 #1023 +uppercase word", lines[1])
    assert lines[1].index("uppercase") == lines[2].index("speaker") == lines[0].index("tracks")


@pytest.mark.parametrize(
    ("bits", "shown"),
    [(11.4, "0.04%"), (1.0, "50.0%"), (20.0, "< 0.01%"), (13.0, "0.01%"), (0.0001, "> 99.9%")],
)
def test_probability_of_a_scored_character_is_never_zero(bits: float, shown: str) -> None:
    assert r.percent(2**-bits) == shown
    result = Surprise(["a", "b"], [math.nan, bits], [[], [("a", 0.9), ("b", 2**-bits)]])
    text = r.guesses_text(result, 1, color=False).plain
    assert f"(p = {shown})" in text
    assert "0.0%" not in text.replace("50.0%", "").replace("90.0%", "")


def test_flat_bits_get_no_hardest_tenth_marks() -> None:
    rng = random.Random(0)
    bits = [math.nan] + [rng.uniform(3.3, 3.8) for _ in range(199)]
    result = Surprise([str(i % 10) for i in range(200)], bits, [[] for _ in range(200)])
    plain = r.surprise_text(result, color=False, width=80).plain
    assert "^" not in plain
    coloured = r.surprise_text(result, color=True, width=80)
    assert not any("underline" in str(span.style) for span in coloured.spans)
    assert "no hardest tenth" in r.summary_line(result).plain


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_against_known_pairs() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((0x76, 0x76, 0x76), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("kind", ["space", "token"])
def test_class_colour_reads_on_the_html_white(kind: str) -> None:
    # The colour as the HTML page writes it (rich's export maps named colours through its
    # theme: "white" became #c0c0c0, 1.8:1 on the page's white).
    from tui.cli.inspect_html import render_html

    page = render_html("classes", [Text("X", style=rm.CLASS_STYLES[kind])])
    assert '<body style="background:#ffffff' in page
    found = re.search(r'<span style="color: #([0-9a-f]{6})[^"]*">X</span>', page)
    assert found, page
    rgb = tuple(int(found.group(1)[i : i + 2], 16) for i in (0, 2, 4))
    assert contrast(rgb, (255, 255, 255)) >= 4.5
    assert contrast(rgb, (0, 0, 0)) >= 4.5  # and it still reads on a dark terminal
