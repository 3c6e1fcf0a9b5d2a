"""``llmv0 inspect --json``: the numbers behind each view, whole (shapes: docs/json.md).

The terminal view shows a window of them (a cursor, a width, the last rows of a timeline);
the JSON holds every position, so a script can draw its own. Positions are 0-based indices
into ``pieces``; bits are bits per token, ``null`` where nothing predicts the token.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.analysis import AnalysisError

if TYPE_CHECKING:
    from torch import nn

    from engine.config.schema import RunConfig
    from engine.text.tokenizer import Tokenizer


def _clamp(position: int, n: int) -> int:
    return max(0, min(position, n - 1))


def _guesses(top: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"piece": piece, "prob": prob} for piece, prob in top]


def _surprise(model: Any, tokenizer: Any, cfg: Any, text: str, opts: dict) -> dict[str, Any]:
    from engine.analysis.surprise import easiest_words, hardest_characters, surprise

    result = surprise(model, tokenizer, text, cfg.seq_length)
    scored = [(b, i) for i, b in enumerate(result.bits) if not math.isnan(b)]
    cursor = opts["cursor"] if opts["cursor"] is not None else (max(scored)[1] if scored else 0)
    ranked = lambda items: [{"text": r.text, "bits": r.bits, "count": r.count} for r in items]  # noqa: E731
    return {
        "text": result.text,
        "pieces": result.pieces,
        "bits": result.bits,
        "mean_bits": result.mean_bits,
        "hardest_tenth_bits": result.decile_threshold(),
        "cursor": _clamp(cursor, len(result.pieces)),
        "top": [_guesses(top) for top in result.top],
        "hardest_characters": ranked(hardest_characters(result, 6)),
        "easiest_words": ranked(easiest_words(result, 6)),
    }


def _attention(model: Any, tokenizer: Any, text: str, opts: dict) -> dict[str, Any]:
    from engine.analysis.attention import attention_maps, summarise_heads

    maps = attention_maps(model, tokenizer, text)
    n = len(maps.pieces)
    query = _clamp(n - 1 if opts["cursor"] is None else opts["cursor"], n)
    layer, head = opts["layer"], opts["head"]
    if not (0 <= layer < maps.n_layer and 0 <= head < maps.n_head):
        raise AnalysisError(
            f"--layer/--head out of range: the model has {maps.n_layer} layers of "
            f"{maps.n_head} heads (0-based)."
        )
    heads = [
        {
            "layer": s.layer,
            "head": s.head,
            "name": s.name,
            "share": s.share,
            "shares": s.shares,
            "weights": maps.weights[s.layer, s.head, query, : query + 1].tolist(),
        }
        for s in summarise_heads(maps)
    ]
    return {
        "text": "".join(maps.pieces),
        "pieces": maps.pieces,
        "n_layer": maps.n_layer,
        "n_head": maps.n_head,
        "layer": layer,
        "head": head,
        "query": query,
        "weights": maps.weights[layer, head, query, : query + 1].tolist(),
        "heads": heads,
    }


def _cells(model: Any, tokenizer: Any, text: str, opts: dict) -> dict[str, Any]:
    from engine.analysis.cells import cell_states, rank_units, text_features

    cells = cell_states(model, tokenizer, text)
    features = text_features(text)
    if opts["feature"]:
        if opts["feature"] not in features:
            raise AnalysisError(f"--feature must be one of: {', '.join(features)}.")
        features = {opts["feature"]: features[opts["feature"]]}
    states = cells.states(opts["state"])
    ranked = rank_units(states, features)
    unit = opts["unit"] if opts["unit"] is not None else (ranked[0].unit if ranked else 0)
    if not 0 <= unit < cells.h.size(1):
        raise AnalysisError(f"--unit must be in 0..{cells.h.size(1) - 1}.")
    return {
        "text": cells.text,
        "state": opts["state"],
        "units": int(cells.h.size(1)),
        "unit": unit,
        "unit_name": cells.unit_name(unit),
        "values": states[:, unit].tolist(),
        "ranked": [
            {
                "unit": m.unit,
                "name": cells.unit_name(m.unit),
                "feature": m.feature,
                "correlation": m.correlation,
            }
            for m in ranked
        ],
    }


def _embeddings(model: Any, tokenizer: Any, run_dir: Path) -> dict[str, Any]:
    from engine.analysis.embeddings import earlier_tables, embedding_map

    emb = embedding_map(model, tokenizer, earlier_tables(run_dir))
    data = _map(emb)
    data["tied_to_output"] = emb.tied
    # the LSTM's untied output matrix (one row per character); null for the GPT, whose output
    # is its embedding table
    data["output"] = _map(emb.output) if emb.output is not None else None
    return data


def _map(emb: Any) -> dict[str, Any]:
    base = emb.baseline
    return {
        "explained": list(emb.explained),
        "random_explained": list(base.mean) if base else None,
        "random_spread": list(base.spread) if base else None,
        "random_draws": base.draws if base else 0,
        "beats_random": list(emb.beats_random),
        "points": [
            {
                "piece": p.piece,
                "kind": p.kind,
                "upper": p.upper,
                "x": p.x,
                "y": p.y,
                "trail": [list(xy) for xy in trail],
                "near": [
                    {"piece": emb.points[j].piece, "cosine": c} for j, c in emb.neighbours[i][:5]
                ],
            }
            for i, (p, trail) in enumerate(zip(emb.points, emb.trail, strict=True))
        ],
    }


def _timeline(run_dir: Path) -> dict[str, Any]:
    from engine.analysis.timeline import read_timeline

    timeline = read_timeline(run_dir)
    if timeline is None:
        raise AnalysisError(
            f"The run {run_dir} has no learning timeline (timeline.jsonl): it is written at "
            "each evaluation by runs trained with this version of llmv0."
        )
    # The file keeps bits from the second token on; a leading null lines each row up with
    # ``pieces``, as in the surprise view.
    rows = [[None, *row] for row in timeline.bits]
    return {"pieces": timeline.pieces, "steps": timeline.steps, "bits": rows}


def view_json(
    model: nn.Module,
    tokenizer: Tokenizer,
    cfg: RunConfig,
    run_dir: Path,
    text: str,
    opts: dict[str, Any],
) -> dict[str, Any]:
    """``{"view", "run", "run_dir", ...the view's own keys}`` for ``inspect --json``."""
    view = opts["view"]
    if view == "surprise":
        data = _surprise(model, tokenizer, cfg, text, opts)
    elif view == "attention":
        data = _attention(model, tokenizer, text, opts)
    elif view == "cells":
        data = _cells(model, tokenizer, text, opts)
    elif view == "embeddings":
        data = _embeddings(model, tokenizer, run_dir)
    else:
        data = _timeline(run_dir)
    return {"view": view, "run": run_dir.name, "run_dir": run_dir, **data}
