"""The character embedding table in two dimensions: PCA in torch, and classes of characters.

``pca_2d`` finds the two directions along which the embeddings vary most (centred SVD); each
axis's sign is fixed so its largest-magnitude loading is positive, so the picture does not
flip between calls. Earlier tables (checkpoints, evaluations) are projected onto the latest
table's axes, so a character's movement across training is read in one frame.

A map can mean nothing: a table that is still noise has principal axes too. So each map carries
a baseline, the variance that seeded random Gaussian tables of the same shape put on PC1/PC2
(:func:`random_baseline`), and says when it is no better. "near X" lists come from cosine
similarity in the full space, not from the 2-D picture, which keeps only two directions. The
LSTM's input embedding is often near its initial noise while its output matrix (one row per
character) holds the structure, so that matrix is mapped as well; the GPT's output is tied to
its table, so its one map is both.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from engine.analysis import AnalysisError
from engine.text.tokenizer import Tokenizer

VOWELS = frozenset("aeiouAEIOU")
# Random tables drawn for the baseline: enough for a mean and a spread, cheap (singular values
# of a V x C matrix each).
BASELINE_DRAWS = 8
# A share counts as "better than random" only above the draws' mean + this many standard
# deviations: a noise table must not pass for a map one time in ten.
BASELINE_SIGMAS = 3.0
NEIGHBOURS = 8  # cosine neighbours kept per token (lists show 4-5)


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


@dataclass(frozen=True)
class Baseline:
    """What random Gaussian tables of one shape explain on PC1 and PC2.

    Attributes:
        mean: the mean share over the draws, per axis.
        spread: the standard deviation over the draws, per axis.
        draws: how many tables were drawn.
    """

    mean: tuple[float, float]
    spread: tuple[float, float]
    draws: int

    def beaten(self, explained: tuple[float, float]) -> tuple[bool, bool]:
        """Per axis: is the real share clearly above random (mean + BASELINE_SIGMAS sd)?"""
        return (
            explained[0] > self.mean[0] + BASELINE_SIGMAS * self.spread[0],
            explained[1] > self.mean[1] + BASELINE_SIGMAS * self.spread[1],
        )


@functools.lru_cache(maxsize=16)
def random_baseline(rows: int, cols: int, draws: int = BASELINE_DRAWS) -> Baseline:
    """PC1/PC2 variance shares of ``draws`` seeded N(0, 1) tables (rows, cols), centred like
    :func:`pca_2d`. Depends on the shape alone (a scale does not change shares), so cached."""
    gen = torch.Generator().manual_seed(0)
    shares = []
    for _ in range(draws):
        x = torch.randn(rows, cols, generator=gen)
        var = torch.linalg.svdvals(x - x.mean(dim=0)).square()
        total = float(var.sum()) or 1.0
        top = [float(v) / total for v in var[:2]] + [0.0, 0.0]
        shares.append(top[:2])
    t = torch.tensor(shares)  # (draws, 2)
    mean = t.mean(dim=0).tolist()
    spread = t.std(dim=0).tolist() if draws > 1 else [0.0, 0.0]
    return Baseline(mean=(mean[0], mean[1]), spread=(spread[0], spread[1]), draws=draws)


def cosine_neighbours(table: torch.Tensor, k: int = NEIGHBOURS) -> list[list[tuple[int, float]]]:
    """For each row of ``table`` (N, C), the ``k`` other rows most similar by cosine in the full
    space, best first, as (index, cosine). A zero row has cosine 0 with everything."""
    x = torch.nn.functional.normalize(table.detach().float().cpu(), dim=1)
    sim = x @ x.T  # (N, N)
    sim.fill_diagonal_(float("-inf"))
    k = max(0, min(k, x.size(0) - 1))
    values, idx = sim.topk(k, dim=1)
    return [
        [(int(j), float(v)) for j, v in zip(row_i, row_v, strict=True)]
        for row_i, row_v in zip(idx.tolist(), values.tolist(), strict=True)
    ]


def embedding_table(model: nn.Module) -> torch.Tensor:
    """The token embedding weights (V, C) of a GPT or CharLSTM."""
    for name in ("wte", "embedding"):
        layer = getattr(model, name, None)
        if isinstance(layer, nn.Embedding):
            return layer.weight.detach().float().cpu()
    raise AnalysisError(f"{type(model).__name__} has no token embedding table")


def output_table(model: nn.Module) -> tuple[torch.Tensor | None, bool]:
    """The output matrix (V, H) that turns the last hidden state into logits, and whether it is
    tied to the embedding table (the GPT's is: one matrix, so no second map)."""
    embedding = next(
        (m for m in (getattr(model, n, None) for n in ("wte", "embedding")) if m is not None), None
    )
    for name in ("lm_head", "head"):
        layer = getattr(model, name, None)
        if isinstance(layer, nn.Linear):
            if isinstance(embedding, nn.Embedding) and layer.weight is embedding.weight:
                return None, True
            return layer.weight.detach().float().cpu(), False
    return None, False


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
    ``neighbours[i]`` lists (index, cosine) of the tokens nearest to point i in the full space.
    ``baseline`` is what a random table of this shape explains; ``source`` names the matrix
    ("embedding" or "output"); ``tied`` says the embedding is also the output matrix;
    ``output`` is the map of an untied output matrix (the LSTM's), else None.
    """

    points: list[EmbeddingPoint]
    explained: tuple[float, float]
    trail: list[list[tuple[float, float]]]
    neighbours: list[list[tuple[int, float]]] = field(default_factory=list)
    baseline: Baseline | None = None
    source: str = "embedding"
    tied: bool = False
    output: EmbeddingMap | None = None

    @property
    def beats_random(self) -> tuple[bool, bool]:
        """Per axis, whether this map's share is clearly above a random table's."""
        if self.baseline is None:
            return (True, True)
        return self.baseline.beaten(self.explained)

    def nearest(self, piece: str, k: int = 5) -> list[tuple[str, float]] | None:
        """The ``k`` tokens most similar to ``piece`` by cosine, or None if it is not mapped."""
        for i, p in enumerate(self.points):
            if p.piece == piece:
                return [(self.points[j].piece, c) for j, c in self.neighbours[i][:k]]
        return None


def embedding_map(
    model: nn.Module, tokenizer: Tokenizer, earlier: list[torch.Tensor] | None = None
) -> EmbeddingMap:
    """The map of ``model``'s embeddings; ``earlier`` tables (same shape) drawn as trails.
    An untied output matrix with one row per token (the LSTM's) is mapped too, as ``output``."""
    out_table, tied = output_table(model)
    output = None
    if out_table is not None and out_table.size(0) == embedding_table(model).size(0):
        output = table_map(out_table, tokenizer, source="output")
    return table_map(embedding_table(model), tokenizer, earlier, tied=tied, output=output)


def table_map(
    table: torch.Tensor,
    tokenizer: Tokenizer,
    earlier: list[torch.Tensor] | None = None,
    *,
    source: str = "embedding",
    tied: bool = False,
    output: EmbeddingMap | None = None,
) -> EmbeddingMap:
    """The map of any table (V, C) with one row per token of ``tokenizer``."""
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
    return EmbeddingMap(
        points=points,
        explained=proj.explained,
        trail=trail,
        neighbours=cosine_neighbours(table),
        baseline=random_baseline(table.size(0), table.size(1)),
        source=source,
        tied=tied,
        output=output,
    )


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
