"""HTML export of an Inspect view: the same rich text, recorded and written as one page.

The page is self-contained (inline styles, no scripts, no external files), so it can be
shared or embedded in a README.
"""

from __future__ import annotations

import html as html_lib
import io
from pathlib import Path

from rich.console import Console
from rich.text import Text

from engine.analysis import AnalysisError
from engine.safe_write import WriteError, write_text

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="background:{background};color:{foreground}">
<h1 style="font-family:sans-serif;font-size:1.2em">{title}</h1>
<pre style="font-family:Menlo,'DejaVu Sans Mono',Consolas,monospace;line-height:1.2">
<code>{code}</code></pre></body></html>
"""


def render_html(title: str, blocks: list[Text], width: int = 100) -> str:
    """The page for ``blocks`` (rich Text), each followed by a blank line."""
    console = Console(
        record=True, file=io.StringIO(), width=width, color_system="truecolor", force_terminal=True
    )
    for block in blocks:
        console.print(block, soft_wrap=True)
        console.print()
    return console.export_html(
        inline_styles=True, code_format=PAGE.replace("{title}", html_lib.escape(title))
    )


def write_html(path: Path, title: str, blocks: list[Text]) -> None:
    """Write the page to ``path``; an unwritable path is a ValueError with the reason."""
    try:
        write_text(path, render_html(title, blocks), label="--html")
    except WriteError as exc:  # a folder, symlink or device is refused, never written through
        raise AnalysisError(str(exc)) from None
