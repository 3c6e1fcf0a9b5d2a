"""The dashboard draws its first frame before torch is imported, and its first frame waits
for every module imported before it: the ``llmv0-tui`` entry (tui.dashboard.entry, and
tui.dashboard.command_line when there are arguments to parse), tui.dashboard.launch,
tui.dashboard.app and every widget must not import torch, nor the ``llmv0`` commands' modules,
nor the
screens opened later (their DataTable alone costs ~70 ms)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LATER = (
    "torch",
    "numpy",
    "tui.cli.main",
    "tui.cli.train",
    "tui.cli.sweep",
    "tui.cli.experiments",
    "tui.dashboard.screens.run_browser",
    "tui.dashboard.screens.sweeps",
    "textual.widgets._data_table",
    "psutil",
    "plotext",  # ~70-100 ms; the empty charts of the first frame are drawn without it
    "textual_plotext",  # ~45 ms; the charts sample CPU and memory only once steps arrive
    # 0.1-0.2 s: the editor's first rows come from engine.config.table; RunConfig loads at
    # its first validation, after the first frame
    "pydantic",
    "engine.config.schema",
)

SCRIPT = """
import sys
import {entry}, tui.dashboard.launch, tui.dashboard.app
from tui.dashboard.launch import make_app
make_app()
heavy = sorted(m for m in {later!r} if m in sys.modules)
print(",".join(heavy) or "none")
"""


def _fresh_python(script: str) -> str:
    """What ``script`` prints, run by a new interpreter (nothing imported yet)."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# With no arguments, llmv0-tui does not load the command-line parser either.
PARSER = ("typer", "click", "tui.dashboard.command_line")


@pytest.mark.parametrize(
    ("entry", "later"),
    [("tui.dashboard.command_line", LATER), ("tui.dashboard.entry", LATER + PARSER)],
    ids=["with-arguments", "no-arguments"],
)
def test_dashboard_modules_do_not_import_torch_or_later_screens(
    entry: str, later: tuple[str, ...]
) -> None:
    out = _fresh_python(SCRIPT.format(entry=entry, later=later))
    assert out.strip() == "none", "imported before the first frame: " + out


FIRST_FRAME = """
import asyncio, sys
from tui.dashboard.launch import make_app
from tui.dashboard.screens.run_screen import RunScreen
RunScreen._preload_engine = lambda self: None  # this test looks at the first frame alone

async def main():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        main = app.main_screen
        charts = main.loss_chart.render().plain + main.metric_chart.render().plain
        drawn = ("loss —" in charts, "┌" in charts, "val perplexity" in charts)
        print("plotext" in sys.modules, *drawn)

asyncio.run(main())
"""


def test_the_first_frame_draws_its_empty_charts_without_plotext() -> None:
    assert _fresh_python(FIRST_FRAME).split() == ["False", "True", "True", "True"]
