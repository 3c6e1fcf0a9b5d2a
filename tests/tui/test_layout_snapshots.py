"""Every screen at 80x24 (the smallest the dashboard supports) and at 120x40, as SVG snapshots:
the main screen, the run browser, the help, compare, sweeps, a prompt, Inspect, and the
too-small notice at 60x20. The data are fixed (run folders with fixed ids and times, scripted
events): nothing trains and nothing reads the clock.

The main screen at 120x40 and the help at 120x40 are in test_snapshots.py; Inspect at 80x24
in test_inspect_snapshots.py. Update after an intended layout change with ``pytest
tests/tui/test_layout_snapshots.py --snapshot-update`` and review the SVGs in the report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TEXT, wait_until
from inspect_fixtures import inspect_app
from layout_fixtures import RUNS, fixed_runs, fixed_sweep
from test_snapshots import play_events, scripted_app
from textual.widgets import Input

from tui.dashboard.launch import make_app
from tui.dashboard.screens.compare import CompareScreen
from tui.dashboard.screens.prompt import TextPrompt
from tui.dashboard.screens.run_browser import RunBrowser
from tui.dashboard.screens.sweeps import SweepsScreen

SIZES = [(80, 24), (120, 40)]
SIZE_IDS = ["80x24", "120x40"]


@pytest.fixture
def runs_app(tmp_path: Path, monkeypatch, fake_factory):
    """A dashboard over the fixed runs, with the runs folder named ``runs`` (relative: the
    browser's title shows it, and a tmp path would change every run)."""
    fixed_runs(tmp_path)
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    fixed_sweep(tmp_path / "runs", corpus)
    monkeypatch.chdir(tmp_path)
    return make_app(trainer_factory=fake_factory, runs_dir=Path("runs"))


async def open_browser(pilot) -> RunBrowser:
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunBrowser))
    browser = pilot.app.screen
    await wait_until(pilot, lambda: browser.loaded)
    await pilot.pause()
    return browser


@pytest.mark.parametrize("size", [(80, 24)], ids=["80x24"])
def test_main_screen(snap_compare, size) -> None:
    async def show_samples(pilot) -> None:
        await play_events(pilot)
        await pilot.press("3")

    assert snap_compare(scripted_app(), terminal_size=size, run_before=show_samples)


@pytest.mark.parametrize("size", [(80, 24)], ids=["80x24"])
def test_help(snap_compare, size) -> None:
    async def open_help(pilot) -> None:
        await play_events(pilot)
        await pilot.press("question_mark")

    assert snap_compare(scripted_app(), terminal_size=size, run_before=open_help)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_run_browser(snap_compare, runs_app, size) -> None:
    assert snap_compare(runs_app, terminal_size=size, run_before=open_browser)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_compare(snap_compare, runs_app, size) -> None:
    async def compare_two(pilot) -> None:
        browser = await open_browser(pilot)
        await pilot.press("down", "down", "space", "space", "C")  # gpt-wide and lstm-small
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CompareScreen))
        await wait_until(pilot, lambda: pilot.app.screen.loaded)
        await pilot.pause()
        assert len(browser.marked) == 2

    assert snap_compare(runs_app, terminal_size=size, run_before=compare_two)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_sweeps(snap_compare, runs_app, size) -> None:
    async def show_sweeps(pilot) -> None:
        await open_browser(pilot)
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SweepsScreen))
        sweeps = pilot.app.screen
        await wait_until(pilot, lambda: sweeps.loaded and len(sweeps.trials) == 3)
        await pilot.pause()

    assert snap_compare(runs_app, terminal_size=size, run_before=show_sweeps)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_prompt(snap_compare, runs_app, size) -> None:
    async def ask_tags(pilot) -> None:
        await open_browser(pilot)
        await pilot.press("down", "down", "t")  # gpt-wide, tagged "lr wide"
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, TextPrompt))
        box = pilot.app.screen.query_one(Input)
        box.cursor_blink = False
        await pilot.pause()
        assert box.value == " ".join(RUNS[1][4])

    assert snap_compare(runs_app, terminal_size=size, run_before=ask_tags)


def test_inspect_120x40(snap_compare, tmp_path: Path, fake_factory) -> None:
    async def open_inspect(pilot) -> None:
        await pilot.press("i")
        await pilot.pause()
        workers = [w for w in pilot.app.workers if w.group == "inspect"]
        if workers:
            await pilot.app.workers.wait_for_complete(workers)
        await pilot.pause()

    app = inspect_app(tmp_path, "gpt", fake_factory)
    assert snap_compare(app, terminal_size=(120, 40), run_before=open_inspect)


def test_too_small_60x20(snap_compare, fake_factory) -> None:
    assert snap_compare(make_app(trainer_factory=fake_factory), terminal_size=(60, 20))
