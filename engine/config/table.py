"""RunConfig's fields as plain data: what a front end shows before pydantic is loaded.

The dashboard draws its first frame (the config editor's rows: name, value, help, allowed
values) from this table, so that pydantic and the schema (0.1-0.2 s to import and build on a
2-core machine) load after the first frame. RunConfig in engine/config/schema.py stays the one
source of truth: ``table.json`` beside this file is written from it
(``python -m engine.config.table``) and a test fails, naming that command, when they differ.
"""

from __future__ import annotations

import json
import logging
import typing
from pathlib import Path
from typing import Any, NamedTuple

log = logging.getLogger(__name__)

TABLE_FILE = Path(__file__).with_name("table.json")


class FieldRow(NamedTuple):
    """One RunConfig field, as the config editor shows it."""

    name: str
    group: str  # one of engine.config.fields.FIELD_GROUPS
    default: Any  # str, int, float or bool
    description: str
    allowed: str  # the allowed values as a phrase (engine.config.schema.field_range)
    choices: tuple[str, ...] | None  # a Literal's values; ("true", "false") for a bool
    live: bool  # may change while a run goes


def _read(path: Path) -> tuple[FieldRow, ...]:
    # Keys are read by FieldRow's names, so a file written for another FieldRow still loads
    # and ``python -m engine.config.table`` can rewrite it (the test reports the mismatch).
    rows = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        FieldRow(*(row.get(key) for key in FieldRow._fields))._replace(
            choices=tuple(row["choices"]) if row.get("choices") else None
        )
        for row in rows
    )


FIELDS: tuple[FieldRow, ...] = _read(TABLE_FILE)
BY_NAME: dict[str, FieldRow] = {row.name: row for row in FIELDS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
LIVE_NAMES: frozenset[str] = frozenset(row.name for row in FIELDS if row.live)


def defaults() -> dict[str, Any]:
    """Every field's default, by name: ``RunConfig().model_dump()`` without pydantic."""
    return {row.name: row.default for row in FIELDS}


def rows_from_schema() -> list[FieldRow]:
    """Every RunConfig field as a row, in schema order (imports pydantic)."""
    from engine.config.fields import FIELD_GROUPS, range_phrase
    from engine.config.schema import RunConfig

    rows = []
    for name, info in RunConfig.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        ann = info.annotation
        choices: tuple[str, ...] | None = None
        if ann is bool:
            choices = ("true", "false")
        elif typing.get_origin(ann) is typing.Literal:
            choices = tuple(str(c) for c in typing.get_args(ann))
        rows.append(
            FieldRow(
                name=name,
                group=str(extra.get("group", FIELD_GROUPS[0])),
                default=info.default,
                description=info.description or "",
                allowed=range_phrase(info),
                choices=choices,
                live=bool(extra.get("live")),
            )
        )
    return rows


def table_text() -> str:
    """What ``table.json`` should hold, written from RunConfig (imports pydantic)."""
    rows = [row._asdict() for row in rows_from_schema()]
    return json.dumps(rows, indent=1, ensure_ascii=False) + "\n"


def rewrite(path: Path = TABLE_FILE) -> bool:
    """Write ``table.json`` from RunConfig; True when it changed."""
    text = table_text()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("%s %s", TABLE_FILE, "rewritten" if rewrite() else "unchanged")
