"""``--json``: the one way every command prints machine-readable output (shapes: docs/json.md).

Plain ``json.dumps`` to stdout, never through Rich: no colour, no markup, no wrapping, and
numbers stay numbers at full precision. JSON has no NaN or infinity, so those become ``null``
(a run without an evaluation has no best validation loss, not an infinite one).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print JSON instead of a table (shapes: docs/json.md)."),
]


def plain(value: Any) -> Any:
    """``value`` as JSON data: non-finite floats as None, paths as strings, tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON and a newline to stdout."""
    sys.stdout.write(json.dumps(plain(data), indent=2, ensure_ascii=False, allow_nan=False))
    sys.stdout.write("\n")
