"""What every ``llmv0`` command shares: consoles, the runs-folder option, user-error handling."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

RunsDir = Annotated[
    Path | None,
    typer.Option(
        "--runs-dir", help="Folder of run folders [default: $LLMV0_RUNS_DIR or ./checkpoints]."
    ),
]


def runs_dir_or_default(value: Path | None) -> Path:
    from engine.runs import default_runs_dir

    return value or default_runs_dir()


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn any :class:`engine.errors.UserError` into one red paragraph and exit code 2.

    The CLI's one place for user errors; anything else is a bug and keeps its traceback.
    """
    from engine.errors import UserError

    try:
        yield
    except UserError as exc:
        err.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, markup=True)
        raise typer.Exit(2) from None
