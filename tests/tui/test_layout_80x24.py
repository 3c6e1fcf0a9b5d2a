"""80x24 first: the run browser keeps a run's state and best validation loss and shows every
key of its hint; the dashboard has one row of keys; the help's key column fits its keys.

Before: at 80x24 the browser showed mark, run, model, config, steps and a cut "bes"; state and
tags were off screen, and its one-row hint stopped after "C" (at 120 columns after "D delete
·": sort, filter and sweeps never showed). The dashboard had a row of buttons and the footer,
the same keys twice; the help's key column was 31 wide for one-letter keys.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import wait_until
from layout_fixtures import RUNS, fixed_runs, screen_text
from test_snapshots import play_events, scripted_app

from tui.dashboard.keys import bindings
from tui.dashboard.launch import make_app
from tui.dashboard.run_rows import COLUMNS, columns_that_fit
from tui.dashboard.screens.help import HelpScreen, key_column_width, key_rows, wrap_keys
from tui.dashboard.screens.run_browser import RunBrowser
from tui.dashboard.widgets.key_hint import KeyHint, hint_entries, wrap_entries


async def open_browser(pilot) -> RunBrowser:
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunBrowser))
    browser = pilot.app.screen
    await wait_until(pilot, lambda: browser.loaded)
    await pilot.pause()
    return browser


def header_row(text: str) -> str:
    """The browser table's header (the status line above also names a run)."""
    return next(line for line in text.splitlines() if " run " in line and " steps " in line)


def hint_words() -> list[str]:
    """Every entry the browser's hint must show: Enter and each binding's key and action."""
    entries = [("Enter", "open"), *hint_entries(RunBrowser.BINDINGS)]
    return [f"{key} {action}" for key, action in entries]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_browser_shows_state_best_val_and_every_hint_key(
    tmp_path: Path, fake_factory, size
) -> None:
    app = make_app(trainer_factory=fake_factory, runs_dir=fixed_runs(tmp_path))
    async with app.run_test(size=size) as pilot:
        browser = await open_browser(pilot)
        text = screen_text(app)
        header = header_row(text)
        assert "state" in header and "best val" in header and "steps" in header
        for state in ("failed", "interrupted", "stopped", "finished"):
            assert state in text
        assert "1.5800" in text  # gpt-wide's best val loss
        for word in hint_words():
            assert word in text, word  # whole: an entry is never split across rows
        # Every binding of the browser is in its hint (the hint is built from them).
        keys = {b.key.split(",")[0] for b in RunBrowser.BINDINGS}
        assert len(hint_words()) == len(keys) + 1
        if size == (80, 24):
            assert "config" not in header  # dropped first: the lowest priority but tags
            assert browser.query_one(KeyHint).region.height == 3  # wrapped, not cut
        else:
            assert "config" in header and "tags" in header


async def test_columns_follow_a_resize_and_the_cursor_stays(tmp_path: Path, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory, runs_dir=fixed_runs(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(pilot)
        await pilot.press("down", "down")
        assert browser.current().run_id == RUNS[1][0]
        assert browser.shown_columns == len(COLUMNS)
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: browser.shown_columns < len(COLUMNS))
        await pilot.pause()
        assert "state" in header_row(screen_text(app))
        assert browser.current().run_id == RUNS[1][0]
        await pilot.press("space")  # the mark column is still the first
        assert browser.marked == {RUNS[1][0]}
        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: browser.shown_columns == len(COLUMNS))
        assert "tags" in header_row(screen_text(app))


def test_columns_that_fit_by_priority() -> None:
    widths = [1, 26, 11, 8, 5, 5, 22, 12]  # mark, run, state, best val, steps, model, ...
    assert columns_that_fit(widths, 200) == 8
    assert columns_that_fit(widths, 72) == 6  # 80x24: up to model
    assert columns_that_fit(widths, 54) == 4  # up to best val
    assert columns_that_fit(widths, 53) == 3
    assert columns_that_fit(widths, 10) == 2  # mark and run whatever the width


def test_hint_wraps_between_entries_only() -> None:
    entries = [("Enter", "open"), ("a", "attach"), ("C", "compare"), ("Esc", "close")]
    lines = [line.plain for line in wrap_entries(entries, 20)]
    assert lines == ["Enter open", "a attach · C compare", "Esc close"]
    assert [line.plain for line in wrap_entries(entries, 200)] == [
        "Enter open · a attach · C compare · Esc close"
    ]


async def test_one_row_of_keys_that_fits_80_columns_and_says_resume() -> None:
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await play_events(pilot)  # ends paused
        await pilot.pause()
        lines = screen_text(app).splitlines()
        footer = lines[-1]
        for key in ("s Start", "p Resume", "x Stop", "w Save", "g Generate", "r Runs", "? Help"):
            assert key in footer
        assert footer.rstrip().endswith("q Quit")
        assert not app.query("#controls") and not app.query("Button#btn-start")
        # No other row repeats the keys.
        assert sum("Start" in line for line in lines) == 1
        app.session.stats.state = "running"
        app.main_screen.update_buttons()
        await pilot.pause()
        assert "p Pause" in screen_text(app).splitlines()[-1]
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert sum("Start" in line for line in screen_text(app).splitlines()) == 1


async def test_help_key_column_fits_its_keys() -> None:
    rows = key_rows(bindings())
    assert key_column_width(rows) == len("shift+right")
    assert wrap_keys("Enter / a / r / space / o / c", 11) == ["Enter / a /", "r / space /", "o / c"]
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        header = next(line for line in screen_text(app).splitlines() if "Action" in line)
        key_cell = header.split("┃")[0].split("Key")[1]
        assert len("Key" + key_cell) <= len("shift+right") + 2  # was 31 + padding
