"""Rich text for the Inspect views that read a model's insides: attention, cells, embeddings.

Shared by the dashboard and the CLI, like :mod:`tui.shared.inspect_render` (same colour and plain
conventions).
"""

from __future__ import annotations

from rich.text import Text

from engine.analysis.attention import AttentionMaps, HeadSummary
from engine.analysis.cells import CellStates, UnitMatch
from engine.analysis.embeddings import EmbeddingMap
from tui.shared.inspect_render import shaded_text, visible

# Attention weight 0 -> 1: dark to bright; the same ramp for any positive quantity.
HEAT = ("#1b1b3a", "#2c3e75", "#2f6ba8", "#2a9bc9", "#4cc9c0", "#a6e07a", "#f5e663")
HEAT_MARKS = " .:-=#"
# Activation -1 -> +1: blue, white, red.
DIVERGING = (
    "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
    "#b2182b",
)  # fmt: skip
CLASS_STYLES = {
    "vowel": "bold red",
    "consonant": "cyan",
    "digit": "bold yellow",
    "punctuation": "magenta",
    # Mid grey, not white: the HTML page is white, where white text was 1.8:1; #767676 is
    # 4.5:1 on white and 4.6:1 on black, so it reads in the page and on a dark terminal.
    "space": "bold #767676",
    "token": "#767676",
}


def heat_style(value: float) -> str:
    level = min(len(HEAT) - 1, max(0, int(value * len(HEAT))))
    return f"{'black' if level >= 4 else 'white'} on {HEAT[level]}"


def heat_mark(value: float) -> str:
    return HEAT_MARKS[min(len(HEAT_MARKS) - 1, max(0, int(value * len(HEAT_MARKS))))]


def attention_text(
    maps: AttentionMaps, layer: int, head: int, query: int, *, color: bool, width: int
) -> Text:
    """The text with each earlier token shaded by how much ``query`` attends to it.

    Weights are scaled to the row's largest, so a head that splits its attention still shows
    where it looks; later tokens (which the query cannot see) stay unshaded.
    """
    row = maps.weights[layer, head, query]  # (T,)
    top = float(row.max()) or 1.0
    scaled = [float(w) / top for w in row]
    styles = [heat_style(v) if j <= query else "dim" for j, v in enumerate(scaled)]
    marks = [heat_mark(v) if j <= query else " " for j, v in enumerate(scaled)]
    return shaded_text(maps.pieces, styles, marks, color=color, width=width, cursor=query)


def heads_text(maps: AttentionMaps, summaries: list[HeadSummary], query: int, k: int = 3) -> Text:
    """One line per head: what it mostly does, and where it looks from ``query`` (top k)."""
    out = Text("head  mostly                    share   from the cursor it looks at", "bold")
    for s in summaries:
        row = maps.weights[s.layer, s.head, query]
        weights, where = row.topk(min(k, query + 1))
        looks = "  ".join(
            f"{visible(maps.pieces[int(j)])}@{query - int(j)} {float(w):.0%}"
            for w, j in zip(weights, where, strict=True)
        )
        out.append(f"\nL{s.layer}H{s.head}  {s.name:<24.24}  {s.share:4.0%}   ")
        out.append(looks)
    return out


def activation_style(value: float) -> str:
    level = round((max(-1.0, min(1.0, value)) + 1) / 2 * (len(DIVERGING) - 1))
    return f"{'white' if level in (0, 1, 7, 8) else 'black'} on {DIVERGING[level]}"


def activation_mark(value: float) -> str:
    if value > 0.5:
        return "+"
    if value < -0.5:
        return "-"
    return "." if abs(value) > 0.1 else " "


def cells_text(
    cells: CellStates, unit: int, kind: str, *, color: bool, width: int, cursor: int | None
) -> Text:
    """The text coloured by one unit's activation: blue negative, red positive (tanh range
    for h; a cell state c can exceed 1 and is scaled by its largest magnitude)."""
    values = cells.states(kind)[:, unit]
    if kind == "c":
        values = values / max(float(values.abs().max()), 1e-6)
    vals = [float(v) for v in values]
    pieces = list(cells.text)
    styles = [activation_style(v) for v in vals]
    marks = [activation_mark(v) for v in vals]
    return shaded_text(pieces, styles, marks, color=color, width=width, cursor=cursor)


def units_text(cells: CellStates, ranked: list[UnitMatch], selected: int) -> Text:
    """The ranked units: name, the feature each tracks, the correlation.

    Columns are as wide as their widest entry (unit ids of three or four digits ran into the
    feature name), the features' at most 19 so a row fits the dashboard's side panel."""
    names = [cells.unit_name(match.unit) for match in ranked]
    name_w = max(map(len, ["unit", *names])) + 1
    feature_w = min(19, max(map(len, ["tracks", *(m.feature for m in ranked)])))
    out = Text(f" {'unit':<{name_w}}{'tracks':<{feature_w}} {'r':>5}", "bold")
    for n, (name, match) in enumerate(zip(names, ranked, strict=True)):
        mark = ">" if n == selected else " "
        out.append(
            f"\n{mark}{name:<{name_w}}{match.feature:<{feature_w}.{feature_w}} "
            f"{match.correlation:+.2f}",
            style="reverse" if n == selected else "",
        )
    return out


def embedding_scatter(emb: EmbeddingMap, *, color: bool, width: int, height: int) -> Text:
    """Each token drawn at its 2-D position by its own character (newline ↵, space ␣);
    earlier positions as dots. Colour by class; plain mode uses the characters alone."""
    xs = [p.x for p in emb.points] + [x for t in emb.trail for x, _ in t]
    ys = [p.y for p in emb.points] + [y for t in emb.trail for _, y in t]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    grid: list[list[tuple[str, str]]] = [[(" ", "")] * width for _ in range(height)]

    def cell(x: float, y: float) -> tuple[int, int]:
        col = round((x - x0) / span_x * (width - 1))
        row = round((y1 - y) / span_y * (height - 1))
        return row, col

    for trail in emb.trail:
        for x, y in trail:
            r, c = cell(x, y)
            grid[r][c] = ("·", "dim")
    for p in emb.points:
        r, c = cell(p.x, p.y)
        label = {"\n": "↵", " ": "␣"}.get(p.piece, visible(p.piece)[:1] or "?")
        grid[r][c] = (label, CLASS_STYLES.get(p.kind, ""))
    out = Text()
    for n, row in enumerate(grid):
        if n:
            out.append("\n")
        for ch, style in row:
            out.append(ch, style=style if color else "")
    return out


MAP_NAMES = {"embedding": "input embedding", "output": "output matrix"}


def embedding_legend(emb: EmbeddingMap, *, color: bool) -> Text:
    """The variance line, the random baseline (with a warning when the map is no better), what
    the table is (tied to the output or not) and the class colours."""
    name = "" if emb.tied else f"{MAP_NAMES.get(emb.source, emb.source)}: "
    out = Text(
        f"{name}PC1 {emb.explained[0]:.1%} of the variance (left-right), "
        f"PC2 {emb.explained[1]:.1%} (up-down)\n"
    )
    out.append_text(baseline_text(emb, color=color))
    if emb.tied:
        out.append("tied: this table is also the output matrix that scores the next character\n")
    for kind in ("vowel", "consonant", "digit", "punctuation", "space"):
        out.append(kind, style=CLASS_STYLES[kind] if color else "")
        out.append("  ")
    if any(emb.trail):
        out.append("· earlier positions")
    return out


def baseline_text(emb: EmbeddingMap, *, color: bool) -> Text:
    """'a random table of this shape would explain X% / Y%', then a plain warning line when
    PC1 is no better than that (within the random draws' spread), or a note for PC2 alone."""
    out = Text()
    if emb.baseline is None:
        return out
    base = emb.baseline
    out.append(
        f"a random table of this shape would explain {base.mean[0]:.1%} / {base.mean[1]:.1%}\n"
    )
    pc1, pc2 = emb.beats_random
    warn = "bold yellow" if color else ""
    if not pc1:
        out.append(
            "warning: no better than a random table; this map and its 'near' lists are "
            "likely noise\n",
            style=warn,
        )
    elif not pc2:
        out.append("PC2 (up-down) is no better than random; read the left-right axis only\n")
    return out


def nearest_text(emb: EmbeddingMap, piece: str, k: int = 5) -> Text:
    """The ``k`` tokens most similar to ``piece`` by cosine in the full space (the 2-D map
    keeps two directions only, so its distances can mislead)."""
    near = emb.nearest(piece, k)
    if near is None:
        return Text("")
    return Text(f"near {visible(piece)!r}: " + " ".join(visible(q) for q, _ in near))


def output_text(emb: EmbeddingMap, pieces: tuple[str, ...], *, color: bool, k: int = 5) -> Text:
    """The untied output matrix (the LSTM's head) summarised: variance, baseline and neighbours.
    Empty when the model has none (the GPT's is its embedding table)."""
    out_map = emb.output
    if out_map is None:
        return Text("")
    out = Text(
        f"output matrix (the weights that score each next character): PC1 "
        f"{out_map.explained[0]:.1%}, PC2 {out_map.explained[1]:.1%}\n"
    )
    out.append_text(baseline_text(out_map, color=color))
    for n, piece in enumerate(pieces):
        if n:
            out.append("\n")
        out.append_text(nearest_text(out_map, piece, k))
    return out
