"""What every ``llmv0`` command shares: consoles, the runs-folder option, user-error handling."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

PIPE_WIDTH = 100_000
"""Columns a console has when it writes to a pipe or file: as many as its content needs."""


class CliConsole(Console):
    """A Rich console that never cuts or folds text when it does not write to a terminal.

    Rich takes the width of whatever terminal it finds (stdin's, even when stdout is a pipe),
    else 80 columns, and fits tables into it: ``llmv0 runs | cat`` showed "fini…" for
    "finished" and split long values mid-word. A script reading the output needs every value
    whole, so off a terminal the console is as wide as its content; tables keep their natural
    width. ``COLUMNS`` describes a terminal, so it sets the width on one only (test runners and
    some shells export ``COLUMNS=80`` to every process: pytest-xdist's workers had it, and
    every pipe was cut at 80); a width given to the console (``width=``) still wins.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kwargs.get("width") is None:
            # Rich took COLUMNS as a fixed width; on a terminal, size() still reads it live.
            self._width = None

    def _size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)  # type: ignore[attr-defined]
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(PIPE_WIDTH, size.height)
        return size

    size = property(_size, Console.size.fset)  # type: ignore[assignment]


# No emoji codes either: ":smile:" in a run name or a prompt is text, like "[bold]".
out = CliConsole(highlight=False, emoji=False)
err = CliConsole(stderr=True, highlight=False, emoji=False)

RunsDir = Annotated[
    Path | None,
    typer.Option(
        "--runs-dir",
        help="Folder of run folders \\[default: $LLMV0_RUNS_DIR or ./checkpoints].",
    ),
]


def runs_dir_or_default(value: Path | None) -> Path:
    from engine.run.summary import default_runs_dir

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
        # Escaped: messages carry user text and extras like 'llmv0[png]' that are not markup.
        err.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, markup=True)
        raise typer.Exit(2) from None


# `-h` is `--help` everywhere (click's context settings reach every subcommand).
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def version_text() -> str:
    """``llmv0 X.Y.Z``: the installed distribution's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"llmv0 {version('llmv0')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "llmv0 (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


VersionOption = Annotated[
    bool,
    typer.Option(
        "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
    ),
]


def _hide_flag_types(params: list[Any]) -> list[Any]:
    """Flags take no value, so help shows no ``<bool>`` type beside them.

    Duck-typed: recent Typer releases carry their own copy of click's classes.
    """
    for param in params:
        if getattr(param, "is_flag", False) and not getattr(param, "count", False):
            param.metavar = ""
    return params


class FlagCommand(TyperCommand):
    """A command whose help lists flags without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _hide_flag_types(super().get_params(ctx))


class FlagGroup(TyperGroup):
    """A command group whose help (and every subcommand's) lists flags without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _hide_flag_types(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _hide_flag_types(command.get_params(ctx))
        return command
