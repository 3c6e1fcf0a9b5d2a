"""LSTM cells: each unit's activation over a text, ranked by how well it tracks a feature.

Features are computed from the text on the spot, one value per character (the state after
reading that character): inside double quotes, inside parentheses, position in the line,
first character after a newline, inside an all-capitals word, inside a speaker name (a line
that is a name followed by a colon, as in Shakespeare's plays). A unit is scored by the
absolute Pearson correlation of its activation with a feature over the text, as in
Karpathy, Johnson and Fei-Fei's "Visualizing and Understanding Recurrent Networks".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from engine.analysis import AnalysisError
from engine.text.tokenizer import Tokenizer

SPEAKER = re.compile(r"^[A-Za-z][A-Za-z .'-]*:$", re.MULTILINE)
CAPS_WORD = re.compile(r"\b[A-Z]{2,}\b")


def _toggle(text: str, mark: str) -> list[float]:
    inside, out = False, []
    for ch in text:
        if ch == mark:
            inside = not inside
        out.append(1.0 if inside else 0.0)
    return out


def _depth(text: str) -> list[float]:
    depth, out = 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        out.append(1.0 if depth or ch == ")" else 0.0)
    return out


def _spans(text: str, pattern: re.Pattern[str], trim: int = 0) -> list[float]:
    out = [0.0] * len(text)
    for match in pattern.finditer(text):
        for i in range(match.start(), match.end() - trim):
            out[i] = 1.0
    return out


def text_features(text: str) -> dict[str, list[float]]:
    """Each feature's value at every character of ``text``."""
    column, position, after_newline = 0, [], []
    previous = "\n"
    for ch in text:
        after_newline.append(1.0 if previous == "\n" else 0.0)
        position.append(float(column))
        column = 0 if ch == "\n" else column + 1
        previous = ch
    return {
        "inside quotes": _toggle(text, '"'),
        "inside parentheses": _depth(text),
        "position in line": position,
        "after newline": after_newline,
        "uppercase word": _spans(text, CAPS_WORD),
        "speaker name": _spans(text, SPEAKER, trim=1),
    }


@dataclass(frozen=True)
class UnitMatch:
    """A unit (column of the states) and the feature it tracks best, with the correlation."""

    unit: int
    feature: str
    correlation: float


def correlations(states: torch.Tensor, feature: list[float] | torch.Tensor) -> torch.Tensor:
    """Pearson correlation of every column of ``states`` (T, U) with ``feature`` (T,); 0
    where either is constant."""
    x = states.float() - states.float().mean(dim=0)  # (T, U)
    f = torch.as_tensor(feature, dtype=torch.float32)
    f = f - f.mean()
    denom = x.norm(dim=0) * f.norm()  # (U,)
    r = (f @ x) / denom.clamp_min(1e-12)
    return torch.where(denom > 1e-9, r, torch.zeros_like(r))


def rank_units(
    states: torch.Tensor, features: dict[str, list[float]], limit: int = 10
) -> list[UnitMatch]:
    """Units ranked by their best absolute correlation with any feature, best first."""
    names = [name for name, values in features.items() if len(set(values)) > 1]
    if not names:
        return []
    table = torch.stack([correlations(states, features[n]) for n in names])  # (F, U)
    best, which = table.abs().max(dim=0)  # (U,)
    order = best.argsort(descending=True)[:limit]
    return [UnitMatch(int(u), names[int(which[u])], float(table[which[u], u])) for u in order]


@dataclass(frozen=True)
class CellStates:
    """Per character of ``text``: every unit's hidden (h) and cell (c) state.

    ``h`` and ``c`` are (T, num_layers * H): unit ``layer * H + j`` is unit j of layer.
    """

    text: str
    h: torch.Tensor
    c: torch.Tensor
    hidden_dim: int

    def states(self, kind: str) -> torch.Tensor:
        return self.c if kind == "c" else self.h

    def unit_name(self, unit: int) -> str:
        layer, j = divmod(unit, self.hidden_dim)
        return f"L{layer} #{j}"


@torch.no_grad()
def cell_states(model: nn.Module, tokenizer: Tokenizer, text: str) -> CellStates:
    """Run ``text`` through a CharLSTM from an empty state; its states after each character."""
    if not hasattr(model, "forward_with_states"):
        raise AnalysisError("Cells are an LSTM view: this model has no recurrent state.")
    missing = tokenizer.unknown(text)
    if missing:
        raise AnalysisError(f"The text has characters this model never saw ({missing[0]!r}).")
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        _, h, c = model.forward_with_states(ids[None].to(device))  # (1, T, L, H)
    finally:
        model.train(was_training)
    T = h.size(1)
    return CellStates(
        text=text,
        h=h[0].reshape(T, -1).float().cpu(),
        c=c[0].reshape(T, -1).float().cpu(),
        hidden_dim=h.size(-1),
    )
