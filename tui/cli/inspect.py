"""``llmv0 inspect``: what a trained model knows, as text in the terminal or an HTML page.

Views: surprise (bits per character, top guesses at a cursor, rankings), attention (GPT),
cells (LSTM), embeddings and the learning timeline. Colour on a terminal; plain marks under
the text when piped or with NO_COLOR; ``--html FILE`` writes a self-contained page.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from engine.analysis import AnalysisError
from tui.cli.completion import VIEWS, complete_run, complete_view
from tui.cli.json_output import JsonOption, print_json
from tui.shared.cli_options import RunsDir, err, out, runs_dir_or_default, user_errors

if TYPE_CHECKING:
    from torch import nn

    from engine.config.schema import RunConfig
    from engine.text.tokenizer import Tokenizer


def _text(
    model: nn.Module, tokenizer: Tokenizer, cfg: RunConfig, text_file: Path | None, opts: dict
) -> str:
    from engine.analysis.passages import passage, validation_text

    if text_file is not None:
        try:
            text = text_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AnalysisError(f"Cannot read --text {text_file}: {exc}") from None
    else:
        text = validation_text(cfg, tokenizer)
    length = opts["length"]
    if opts["view"] == "attention":
        length = min(length, getattr(model, "block_size", length))
    seed = opts["seed"]
    position = None if seed is not None else opts["position"]
    return passage(text, length, position, seed)


def build_view(
    model: nn.Module,
    tokenizer: Tokenizer,
    cfg: RunConfig,
    run_dir: Path,
    text: str,
    opts: dict[str, Any],
    *,
    color: bool,
    width: int,
) -> list[Text]:
    """The view's blocks of text, in order (also what --html writes)."""
    from tui.shared import inspect_render as r
    from tui.shared import inspect_render_models as rm

    view = opts["view"]
    title = Text(f"{view} · {run_dir.name}", style="bold")
    if view == "surprise":
        from engine.analysis.surprise import surprise

        result = surprise(model, tokenizer, text, cfg.seq_length)
        cursor = opts["cursor"] if opts["cursor"] is not None else _hardest(result)
        cursor = max(0, min(cursor, len(result.pieces) - 1))
        return [
            title,
            r.summary_line(result),
            r.bits_legend(color),
            r.surprise_text(result, color=color, width=width, cursor=cursor),
            r.guesses_text(result, cursor, color=color),
            r.rankings_text(result),
        ]
    if view == "attention":
        from engine.analysis.attention import attention_maps, summarise_heads

        maps = attention_maps(model, tokenizer, text)
        query = len(maps.pieces) - 1 if opts["cursor"] is None else opts["cursor"]
        query = max(0, min(query, len(maps.pieces) - 1))
        layer, head = opts["layer"], opts["head"]
        if not (0 <= layer < maps.n_layer and 0 <= head < maps.n_head):
            raise AnalysisError(
                f"--layer/--head out of range: the model has {maps.n_layer} layers of "
                f"{maps.n_head} heads (0-based)."
            )
        summaries = summarise_heads(maps)
        return [
            title,
            Text(f"layer {layer} head {head}: where the character at {query} looks (c@k: k back)"),
            rm.attention_text(maps, layer, head, query, color=color, width=width),
            rm.heads_text(maps, summaries, query),
        ]
    if view == "cells":
        from engine.analysis.cells import cell_states, rank_units, text_features

        cells = cell_states(model, tokenizer, text)
        features = text_features(text)
        if opts["feature"]:
            if opts["feature"] not in features:
                raise AnalysisError(f"--feature must be one of: {', '.join(features)}.")
            features = {opts["feature"]: features[opts["feature"]]}
        ranked = rank_units(cells.states(opts["state"]), features)
        unit = opts["unit"] if opts["unit"] is not None else (ranked[0].unit if ranked else 0)
        if not 0 <= unit < cells.h.size(1):
            raise AnalysisError(f"--unit must be in 0..{cells.h.size(1) - 1}.")
        return [
            title,
            Text(f"unit {cells.unit_name(unit)} ({opts['state']}): blue < 0 < red"),
            rm.cells_text(cells, unit, opts["state"], color=color, width=width, cursor=None),
            rm.units_text(
                cells, ranked, next((n for n, m in enumerate(ranked) if m.unit == unit), -1)
            ),
        ]
    if view == "embeddings":
        return _embeddings(model, tokenizer, run_dir, title, color=color, width=width)
    from engine.analysis.timeline import read_timeline

    timeline = read_timeline(run_dir)
    if timeline is None:
        raise AnalysisError(
            f"The run {run_dir} has no learning timeline (timeline.jsonl): it is written at "
            "each evaluation by runs trained with this version of llmv0."
        )
    return [
        title,
        Text(f"{len(timeline.steps)} evaluations (rows) x the passage's characters"),
        r.bits_legend(color, hardest=False),
        r.timeline_text(
            timeline.pieces,
            timeline.steps,
            timeline.bits,
            color=color,
            width=width,
            offset=max(0, opts["cursor"] or 0),
            max_rows=opts["rows"],
        ),
    ]


def _hardest(result: Any) -> int:
    import math

    scored = [(b, i) for i, b in enumerate(result.bits) if not math.isnan(b)]
    return max(scored)[1] if scored else 0


def _embeddings(
    model: nn.Module, tokenizer: Tokenizer, run_dir: Path, title: Text, *, color: bool, width: int
) -> list[Text]:
    from engine.analysis.embeddings import earlier_tables, embedding_map
    from tui.shared import inspect_render_models as rm

    earlier = earlier_tables(run_dir)  # the oldest kept checkpoint: how far the map moved
    emb = embedding_map(model, tokenizer, earlier)
    height = max(10, width // 4)
    blocks = [
        title,
        rm.embedding_legend(emb, color=color),
        rm.embedding_scatter(emb, color=color, width=width, height=height),
        Text("nearest by cosine in the full space:"),
        rm.nearest_text(emb, "a"),
        rm.nearest_text(emb, "."),
    ]
    if emb.output is not None:  # the LSTM: the output matrix often holds the structure
        blocks += [
            rm.embedding_legend(emb.output, color=color),
            rm.embedding_scatter(emb.output, color=color, width=width, height=height),
            Text("nearest by cosine in the full space:"),
            rm.nearest_text(emb.output, "a"),
            rm.nearest_text(emb.output, "."),
        ]
    return blocks


def inspect(
    run: Annotated[
        str,
        typer.Argument(help="Run id, run folder or .pt file.", autocompletion=complete_run),
    ],
    view: Annotated[
        str, typer.Option(help="|".join(VIEWS), autocompletion=complete_view)
    ] = "surprise",
    text: Annotated[
        Path | None,
        typer.Option("--text", help="A UTF-8 file to inspect (default: the validation split)."),
    ] = None,
    position: Annotated[int, typer.Option(help="Where the validation passage starts.")] = 0,
    seed: Annotated[int | None, typer.Option(help="A random validation passage.")] = None,
    length: Annotated[int, typer.Option(help="Characters of text to inspect.")] = 320,
    cursor: Annotated[
        int | None, typer.Option(help="Position: the guesses shown / the attending char.")
    ] = None,
    layer: Annotated[int, typer.Option(help="Attention: layer (0-based).")] = 0,
    head: Annotated[int, typer.Option(help="Attention: head (0-based).")] = 0,
    unit: Annotated[
        int | None, typer.Option(help="Cells: unit (default: the best ranked).")
    ] = None,
    state: Annotated[str, typer.Option(help="Cells: 'h' (hidden) or 'c' (cell).")] = "c",
    feature: Annotated[str, typer.Option(help="Cells: rank for this feature only.")] = "",
    rows: Annotated[int, typer.Option(help="Timeline: most evaluations shown (0 = all).")] = 24,
    html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML page.")] = None,
    json_: JsonOption = False,
    runs_dir: RunsDir = None,
) -> None:
    """See inside a trained model: surprise, attention, cells, embeddings, timeline."""
    from engine.run.folder import existing_run

    opts = {
        "view": view, "position": position, "seed": seed, "length": length, "cursor": cursor,
        "layer": layer, "head": head, "unit": unit, "state": state, "feature": feature,
        "rows": rows,
    }  # fmt: skip
    color = out.is_terminal and not out.no_color
    with user_errors():
        if view not in VIEWS:
            raise AnalysisError(f"--view must be one of {', '.join(VIEWS)}, not {view!r}.")
        if state not in ("h", "c"):
            raise AnalysisError(f"--state must be 'h' or 'c', not {state!r}.")
        if length < 2:
            raise AnalysisError("--length must be at least 2.")
        folder = runs_dir_or_default(runs_dir)
        resolved = existing_run(run, folder)
        run_dir = resolved.folder.path
        model, tokenizer, cfg = resolved.load_for_inference()
        body = (
            "" if view in ("embeddings", "timeline") else _text(model, tokenizer, cfg, text, opts)
        )
        width = min(out.width, 120)
        if json_:
            from tui.cli.inspect_json import view_json

            data = view_json(model, tokenizer, cfg, run_dir, body, opts)
        elif html is None:  # --html: the page is the output, the terminal gets where it went
            blocks = build_view(
                model, tokenizer, cfg, run_dir, body, opts, color=color, width=width
            )
        if html is not None:
            from tui.cli.inspect_html import write_html

            html_blocks = build_view(
                model, tokenizer, cfg, run_dir, body, opts, color=True, width=100
            )
            write_html(html, f"llmv0 inspect {view}: {run_dir.name}", html_blocks)
    if json_:
        print_json(data)
        if html is not None:  # stdout stays one JSON document
            err.print(f"Wrote {html}", markup=False, highlight=False, soft_wrap=True)
    elif html is not None:
        out.print(f"Wrote {html}", markup=False, highlight=False, soft_wrap=True)
    else:
        for block in blocks:
            out.print(block, soft_wrap=True)
            out.print()
