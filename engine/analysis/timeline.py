"""The learning timeline: one fixed validation passage's per-token bits at every evaluation.

At each evaluation the trainer calls :func:`record`, which scores the passage (the first
``PASSAGE_TOKENS`` + 1 tokens of the validation split, within one window) and appends one JSON
line ``{"step", "pieces", "bits"}`` to ``timeline.jsonl`` in the run folder: a few kB per
evaluation. :func:`read_timeline` reads it back, live or after the run; a resumed run's
repeated steps replace the earlier ones.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.analysis.surprise import surprise_ids
from engine.run.folder import RunFolder
from engine.text.tokenizer import Tokenizer

PASSAGE_TOKENS = 120  # one screen line and a half; a forward over it costs ~1 ms

log = logging.getLogger(__name__)


def record(
    model: nn.Module, tokenizer: Tokenizer, val_tokens: torch.Tensor, step: int, run_dir: Path
) -> None:
    """Score the passage and append it to the run's timeline; a failure is logged, never
    raised (the timeline must not end a run)."""
    length = min(PASSAGE_TOKENS, len(val_tokens) - 1)
    block = getattr(model, "block_size", length)
    length = min(length, block)
    try:
        result = surprise_ids(model, tokenizer, val_tokens[: length + 1], length)
        line = {"step": step, "pieces": result.pieces, "bits": result.bits[1:]}
        with RunFolder(run_dir).timeline_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
    except Exception:
        log.exception("could not record the learning timeline at step %d", step)


@dataclass(frozen=True)
class Timeline:
    """Rows of bits (one per evaluation, oldest first) over the passage's tokens.

    ``bits[r][t]`` is the bits on ``pieces[t + 1]`` at ``steps[r]``.
    """

    pieces: list[str]
    steps: list[int]
    bits: list[list[float]]


def read_timeline(run_dir: Path) -> Timeline | None:
    """The run's timeline, or None when it has none; damaged lines are skipped."""
    path = RunFolder(run_dir).timeline_path
    if not path.is_file():
        return None
    rows: dict[int, list[float]] = {}
    pieces: list[str] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            line = json.loads(raw)
            step, bits = int(line["step"]), [float(b) for b in line["bits"]]
            these = [str(p) for p in line["pieces"]]
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash
        if these != pieces:
            if pieces:
                rows = {}  # another passage (the run's data changed): start over
            pieces = these
        for dropped in [s for s in rows if s >= step]:
            del rows[dropped]  # a resume repeats steps: the newer values win
        rows[step] = [b if math.isfinite(b) else math.nan for b in bits]
    if not rows:
        return None
    steps = sorted(rows)
    return Timeline(pieces=pieces, steps=steps, bits=[rows[s] for s in steps])
