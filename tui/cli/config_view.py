"""What ``llmv0 config`` prints: every field as a table, as stacked rows, or as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from tui.cli.tables import word_safe_table

if TYPE_CHECKING:
    from engine.config.schema import RunConfig

TITLE = "Config fields (live = can change during a run)"
HEADER = ("field", "value", "allowed", "description")


def _rows(cfg: RunConfig) -> list[tuple[str, str, str, Text]]:
    from engine.config.schema import LIVE_FIELDS, RunConfig, field_range

    rows = []
    for name, info in RunConfig.model_fields.items():
        description = Text(info.description or "")
        if name in LIVE_FIELDS:
            description.append(" (live)", style="cyan")
        rows.append((name, repr(getattr(cfg, name)), field_range(name), description))
    return rows


def config_view(cfg: RunConfig, width: int) -> RenderableType:
    """The fields as a table whose cells wrap between words; one block per field when the
    terminal is too narrow for the table's longest words side by side."""
    rows = _rows(cfg)
    table = word_safe_table(TITLE, HEADER, rows, width)
    if table is not None:
        return table
    blocks: list[RenderableType] = [Text(TITLE, style="bold")]
    for name, value, allowed, description in rows:
        blocks.append(Text.assemble((name, "bold"), " = ", value))
        details = Text.assemble(("allowed: ", "dim"), allowed, "\n", description)
        blocks.append(Padding(details, (0, 0, 0, 4)))  # wrapped lines stay under their field
    return Group(*blocks)


def config_json(cfg: RunConfig) -> dict[str, Any]:
    """``llmv0 config --json``: the values (what --save writes), each field's range and
    description, and the presets (docs/json.md)."""
    from engine.config.files import list_presets
    from engine.config.schema import LIVE_FIELDS, RunConfig, field_range

    values = cfg.model_dump(mode="json")
    fields = [
        {
            "name": name,
            "value": values[name],
            "allowed": field_range(name),
            "description": info.description or "",
            "live": name in LIVE_FIELDS,
        }
        for name, info in RunConfig.model_fields.items()
    ]
    return {"config": values, "fields": fields, "presets": list_presets()}


def check_corpus(cfg: RunConfig) -> None:
    """Refuse a ``data_file`` that ``llmv0 train`` would refuse on this machine.

    Tiny Shakespeare is downloaded on first use, so it is not looked for here.

    Raises:
        CorpusError: a missing file, a folder, a FIFO or a device.
    """
    from engine.text.corpus import SHAKESPEARE_NAME, resolve_corpus

    if cfg.data_file != SHAKESPEARE_NAME:
        resolve_corpus(cfg.data_file)
