"""The five Inspect views for the dashboard: what each computes (in a worker) and draws.

A view's :meth:`compute` calls the engine's analysis on a snapshot of the weights (worker
thread, may take tens of milliseconds); :meth:`render` only formats a computed result for a
cursor position and selection (UI thread, a few milliseconds), so moving the cursor never
runs the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text

from tui.shared import inspect_render as r
from tui.shared import inspect_render_models as rm


@dataclass
class ViewState:
    """Where the user is in a view: cursor position, selected row (head or unit), h or c."""

    cursor: int = -1  # -1: the view's default position
    selected: int = 0
    kind: str = "c"
    offset: int = 0


class View:
    """Base: a view with a name, a key, and whether it reads a text."""

    name = ""
    key = ""
    needs_text = True
    hint = ""

    def compute(self, model: Any, tokenizer: Any, seq_length: int, text: str, run_dir: Path | None):
        raise NotImplementedError

    def size(self, result: Any) -> int:
        """How many cursor positions the result has."""
        return 0

    def rows(self, result: Any) -> int:
        """How many rows up/down selects among."""
        return 0

    def default_cursor(self, result: Any) -> int:
        """Where the cursor is before the user moves it."""
        return 0

    def render(
        self, result: Any, state: ViewState, *, color: bool, width: int
    ) -> tuple[Text, Text]:
        """(main text, side panel) for ``result`` at ``state``."""
        raise NotImplementedError


class SurpriseView(View):
    name, key = "surprise", "1"
    hint = "←/→ cursor · n new passage · / type text"

    def compute(self, model, tokenizer, seq_length, text, run_dir):
        from engine.analysis.surprise import surprise

        return surprise(model, tokenizer, text, seq_length)

    def size(self, result) -> int:
        return len(result.pieces)

    def default_cursor(self, result) -> int:
        return 1  # the first token is not predicted

    def render(self, result, state, *, color, width):
        cursor = state.cursor if state.cursor >= 0 else self.default_cursor(result)
        main = Text()
        main.append_text(r.summary_line(result))
        main.append("\n")
        main.append_text(r.bits_legend(color))
        main.append("\n\n")
        main.append_text(r.surprise_text(result, color=color, width=width, cursor=cursor))
        side = r.guesses_text(result, cursor, color=color, bar=12)
        side.append("\n\n")
        side.append_text(r.rankings_text(result, limit=5))
        return main, side


class AttentionView(View):
    name, key = "attention", "2"
    hint = "←/→ attending char · ↑/↓ head"

    def compute(self, model, tokenizer, seq_length, text, run_dir):
        from engine.analysis.attention import attention_maps, summarise_heads

        maps = attention_maps(model, tokenizer, text)
        return maps, summarise_heads(maps)

    def size(self, result) -> int:
        return len(result[0].pieces)

    def rows(self, result) -> int:
        return len(result[1])

    def default_cursor(self, result) -> int:
        return len(result[0].pieces) - 1  # the last character: it sees the whole text

    def render(self, result, state, *, color, width):
        maps, summaries = result
        query = state.cursor if state.cursor >= 0 else self.default_cursor(result)
        chosen = summaries[state.selected % len(summaries)]
        main = Text(f"L{chosen.layer}H{chosen.head} ({chosen.name}): where ", style="bold")
        main.append(r.label(maps.pieces[query]), style="bold")
        main.append(f" at {query} looks\n\n", style="bold")
        main.append_text(
            rm.attention_text(maps, chosen.layer, chosen.head, query, color=color, width=width)
        )
        side = Text("heads (↑/↓)", style="bold")
        for n, s in enumerate(summaries):
            mark = ">" if n == state.selected % len(summaries) else " "
            side.append(f"\n{mark}L{s.layer}H{s.head} {s.name:<22.22} {s.share:4.0%}")
        return main, side


class CellsView(View):
    name, key = "cells", "3"
    hint = "↑/↓ unit · k hidden/cell state · ←/→ cursor"

    def compute(self, model, tokenizer, seq_length, text, run_dir):
        from engine.analysis.cells import cell_states, rank_units, text_features

        cells = cell_states(model, tokenizer, text)
        features = text_features(text)
        ranked = {kind: rank_units(cells.states(kind), features, 12) for kind in ("c", "h")}
        return cells, ranked

    def size(self, result) -> int:
        return len(result[0].text)

    def rows(self, result) -> int:
        return len(result[1]["c"])

    def render(self, result, state, *, color, width):
        cells, ranked = result
        units = ranked[state.kind]
        if not units:
            return Text("No unit varies over this text."), Text("")
        pick = state.selected % len(units)
        match = units[pick]
        cursor = state.cursor if state.cursor >= 0 else None
        main = Text(
            f"{cells.unit_name(match.unit)} ({'cell c' if state.kind == 'c' else 'hidden h'}) "
            f"tracks {match.feature} (r {match.correlation:+.2f}): blue < 0 < red\n\n",
            style="bold",
        )
        main.append_text(
            rm.cells_text(cells, match.unit, state.kind, color=color, width=width, cursor=cursor)
        )
        if cursor is not None:
            value = float(cells.states(state.kind)[cursor, match.unit])
            main.append(f"\n\nat {cursor} ({r.visible(cells.text[cursor])}): {value:+.3f}")
        return main, rm.units_text(cells, units, pick)


class EmbeddingsView(View):
    name, key = "embeddings", "4"
    needs_text = False
    hint = "PCA of the character embeddings"

    def compute(self, model, tokenizer, seq_length, text, run_dir):
        from engine.analysis.embeddings import earlier_tables, embedding_map

        return embedding_map(model, tokenizer, earlier_tables(run_dir))

    def render(self, result, state, *, color, width):
        main = rm.embedding_scatter(result, color=color, width=max(20, width), height=14)
        side = rm.embedding_legend(result, color=color)
        side.append("\nnearest by cosine in the full space:")
        for piece in ("e", "a", "T", ".", " "):
            side.append("\n")
            side.append_text(rm.nearest_text(result, piece, k=4))
        if result.output is not None:  # the LSTM: its structure is often in the output matrix
            side.append("\n\n")
            side.append_text(rm.output_text(result, ("e", "a", "."), color=color, k=4))
        return main, side


class TimelineView(View):
    name, key = "timeline", "5"
    needs_text = False
    hint = "←/→ scroll the passage"

    def compute(self, model, tokenizer, seq_length, text, run_dir):
        from engine.analysis.timeline import read_timeline

        timeline = read_timeline(run_dir) if run_dir is not None else None
        if timeline is None:
            raise ValueError(
                "No learning timeline yet: it is recorded at each evaluation of a run "
                "(timeline.jsonl in the run folder)."
            )
        return timeline

    def size(self, result) -> int:
        return len(result.pieces) - 1

    def render(self, result, state, *, color, width):
        offset = max(0, state.cursor)
        main = r.timeline_text(
            result.pieces, result.steps, result.bits, color=color, width=width,
            offset=offset, max_rows=14,
        )  # fmt: skip
        last = [b for b in result.bits[-1] if not math.isnan(b)]
        first = [b for b in result.bits[0] if not math.isnan(b)]
        side = Text(f"{len(result.steps)} evaluations\n", style="bold")
        side.append(f"step {result.steps[0]:,}: {sum(first) / max(len(first), 1):.2f} bits\n")
        side.append(f"step {result.steps[-1]:,}: {sum(last) / max(len(last), 1):.2f} bits\n\n")
        side.append_text(r.bits_legend(color, hardest=False))
        return main, side


VIEWS: list[View] = [SurpriseView(), AttentionView(), CellsView(), EmbeddingsView(), TimelineView()]
