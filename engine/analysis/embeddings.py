"""The character embedding table in two dimensions: PCA in torch, and classes of characters.

``pca_2d`` finds the two directions along which the embeddings vary most (centred SVD); each
axis's sign is fixed so its largest-magnitude loading is positive, so the picture does not
flip between calls. Earlier tables (checkpoints, evaluations) are projected onto the latest
table's axes, so a character's movement across training is read in one frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.analysis import AnalysisError
from engine.text.tokenizer import Tokenizer

VOWELS = frozenset("aeiouAEIOU")


@dataclass(frozen=True)
class Projection:
    """Principal axes of a table.

    Attributes:
        mean: (C,) the table's mean row.
        axes: (2, C) unit rows, the first two principal directions.
        explained: fraction of the variance each axis carries.
    """

    mean: torch.Tensor
    axes: torch.Tensor
    explained: tuple[float, float]

    def apply(self, table: torch.Tensor) -> torch.Tensor:
        """Coordinates (N, 2) of ``table``'s rows on these axes."""
        return (table.float() - self.mean) @ self.axes.T


def pca_2d(table: torch.Tensor) -> Projection:
    """The two principal axes of ``table`` (N, C), N >= 2."""
    x = table.detach().float().cpu()
    mean = x.mean(dim=0)
    centred = x - mean
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    axes = vh[:2].clone()
    if axes.size(0) < 2:  # a one-column table: the second axis is empty
        axes = torch.cat([axes, torch.zeros(2 - axes.size(0), x.size(1))])
    for row in axes:
        if row[row.abs().argmax()] < 0:
            row.neg_()
    var = s.square()
    total = float(var.sum()) or 1.0
    shares = [float(v) / total for v in var[:2]] + [0.0, 0.0]
    return Projection(mean=mean, axes=axes, explained=(shares[0], shares[1]))


def embedding_table(model: nn.Module) -> torch.Tensor:
    """The token embedding weights (V, C) of a GPT or CharLSTM."""
    for name in ("wte", "embedding"):
        layer = getattr(model, name, None)
        if isinstance(layer, nn.Embedding):
            return layer.weight.detach().float().cpu()
    raise AnalysisError(f"{type(model).__name__} has no token embedding table")


def char_class(piece: str) -> str:
    """vowel, consonant, digit, space (whitespace) or punctuation."""
    if len(piece) != 1:
        return "token"
    if piece.isspace():
        return "space"
    if piece.isdigit():
        return "digit"
    if piece in VOWELS:
        return "vowel"
    if piece.isalpha():
        return "consonant"
    return "punctuation"


@dataclass(frozen=True)
class EmbeddingPoint:
    """One token on the map: its text, class, case and 2-D coordinates."""

    piece: str
    kind: str
    upper: bool
    x: float
    y: float


@dataclass(frozen=True)
class EmbeddingMap:
    """Every token of the vocabulary on the two principal axes, plus earlier positions.

    ``trail[i]`` lists the coordinates of point i in earlier tables (oldest first).
    """

    points: list[EmbeddingPoint]
    explained: tuple[float, float]
    trail: list[list[tuple[float, float]]]


def embedding_map(
    model: nn.Module, tokenizer: Tokenizer, earlier: list[torch.Tensor] | None = None
) -> EmbeddingMap:
    """The map of ``model``'s embeddings; ``earlier`` tables (same shape) drawn as trails."""
    table = embedding_table(model)
    proj = pca_2d(table)
    coords = proj.apply(table).tolist()
    points = []
    for i, (x, y) in enumerate(coords):
        piece = tokenizer.decode([i])
        points.append(EmbeddingPoint(piece, char_class(piece), piece.isupper(), x, y))
    trail: list[list[tuple[float, float]]] = [[] for _ in points]
    for old in earlier or []:
        if old.shape != table.shape:
            continue
        for i, (x, y) in enumerate(proj.apply(old).tolist()):
            trail[i].append((x, y))
    return EmbeddingMap(points=points, explained=proj.explained, trail=trail)


def earlier_tables(run_dir: Path | None, limit: int = 1) -> list[torch.Tensor]:
    """Embedding tables of the run's oldest kept checkpoints (``step-*.pt``, written when
    ``keep_checkpoints`` > 0), oldest first; unreadable files are skipped."""
    from engine.run.checkpoint import CheckpointError, load_checkpoint

    if run_dir is None:
        return []
    tables = []
    for path in sorted(run_dir.glob("step-*.pt"))[:limit]:
        try:
            state = load_checkpoint(path)["model"]
        except (CheckpointError, KeyError):
            continue
        for key in ("wte.weight", "embedding.weight"):
            if key in state:
                tables.append(state[key].float())
    return tables
