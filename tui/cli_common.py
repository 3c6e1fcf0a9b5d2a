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
    """Turn the engine's user-facing errors into one red paragraph and exit code 2."""
    from engine.checkpoint import CheckpointError
    from engine.config import ConfigError
    from engine.data import CorpusError
    from engine.device import DeviceError
    from engine.tokenizer import UnknownCharactersError

    try:
        yield
    except (
        ConfigError,
        CorpusError,
        CheckpointError,
        DeviceError,
        UnknownCharactersError,
        ValueError,
    ) as exc:
        # escape: messages quote paths and values the user typed; "[x]" in them is text.
        err.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, markup=True)
        raise typer.Exit(2) from None
