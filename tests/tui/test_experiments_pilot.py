"""The run browser's experiment keys, driven like a user: compare, tag, note, delete (never a
running run), sort and filter, and the sweeps view with a trial stopped from it."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until
from optuna.distributions import CategoricalDistribution
from rich.text import Text
from textual.widgets import DataTable, Input

from engine import events as ev
from engine.run.lock import RunLock
from engine.run.log import RunLog
from tui.dashboard.launch import make_app
from tui.dashboard.screens.compare import CompareScreen
from tui.dashboard.screens.prompt import Confirm, TextPrompt
from tui.dashboard.screens.run_browser import RunBrowser
from tui.dashboard.screens.sweeps import SweepsScreen


def write_run(runs: Path, name: str, config: dict, losses: list[float], started: float) -> Path:
    """A finished run folder from scripted events (an eval every 2 steps)."""
    folder = runs / name
    log = RunLog(folder / "events.jsonl")
    cfg = {"model": "lstm", "learning_rate": 0.01, "hidden_dim": 32, **config}
    (folder / "config.json").write_text(json.dumps(cfg))
    log(ev.RunStarted(name, cfg, 1, "cpu", "f32", len(losses), 9, 9, 9, 9, time=started))
    for step, loss in enumerate(losses, start=1):
        log(ev.StepCompleted(step, 0, loss, 0.01, 100.0, 0.5, 0.1, len(losses)))
        if step % 2 == 0:
            log(ev.EvalCompleted(step, 0, loss, loss + 0.1, 2.0, 1.5, loss, True))
    log(ev.RunFinished("completed", len(losses), min(losses), 1.0))
    log.close()
    return folder


_HELD: list[RunLock] = []


@pytest.fixture(autouse=True)
def _release_locks() -> Iterator[None]:
    """The locks make_runs takes stand for live trainers until the test ends."""
    yield
    while _HELD:
        _HELD.pop().release()


def make_runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    now = time.time()
    write_run(runs, "small", {"hidden_dim": 32}, [3.0, 2.5, 2.2, 2.0], now - 30)
    wide = {"hidden_dim": 128, "data_file": "[red]x[/red].txt"}  # user text, not markup
    write_run(runs, "wide", wide, [3.0, 2.0, 1.6, 1.4], now - 20)
    running = write_run(runs, "live", {"model": "gpt"}, [3.0, 2.9], now - 10)
    lock = RunLock(running)  # a live process (this one) holds its OS lock
    lock.acquire()
    _HELD.append(lock)
    lines = (running / "events.jsonl").read_text().splitlines(keepends=True)
    (running / "events.jsonl").write_text("".join(lines[:-1]))  # no terminal event yet
    return runs


async def open_browser(pilot) -> RunBrowser:
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunBrowser))
    browser = pilot.app.screen
    await wait_until(pilot, lambda: browser.loaded)
    return browser


async def answer(pilot, text: str) -> None:
    """Type ``text`` into the open prompt and press Enter."""
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


async def cursor_to(pilot, browser: RunBrowser, run_id: str) -> None:
    browser.table.move_cursor(row=[r.run_id for r in browser.rows].index(run_id))
    await pilot.pause()


async def test_compare_marked_runs_shows_only_differing_fields(tmp_path, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory, runs_dir=make_runs(tmp_path))
    async with app.run_test(size=(140, 50)) as pilot:
        browser = await open_browser(pilot)
        await cursor_to(pilot, browser, "small")
        await pilot.press("space")
        await pilot.press("C")  # one marked run is not a comparison
        assert app.screen is browser
        await cursor_to(pilot, browser, "wide")
        await pilot.press("space")
        title = browser.query_one("#browser-title")
        await pilot.press("C")
        # The key is answered before the compare screen is built (issue 29: within 100 ms).
        assert isinstance(app.screen, CompareScreen) or "comparing 2 runs" in str(title.content)
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
        compare = app.screen
        await wait_until(pilot, lambda: compare.loaded)
        diff = compare.query_one("#compare-diff", DataTable)
        rows = {str(diff.get_row_at(i)[0]): diff.get_row_at(i)[1:] for i in range(diff.row_count)}
        assert list(rows) == ["hidden_dim", "data_file"]  # model, learning_rate: equal
        assert {str(c) for c in rows["hidden_dim"]} == {"128", "32"}
        # DataTable reads a str cell as markup (it would show a red "x.txt"): cells are Text.
        shown = [c.plain for c in rows["data_file"] if isinstance(c, Text)]
        assert "[red]x[/red].txt" in shown
        metrics = compare.query_one("#compare-metrics", DataTable)
        labels = [str(metrics.get_row_at(i)[0]) for i in range(metrics.row_count)]
        assert "best val loss" in labels
        chart = str(compare.query_one("#compare-chart").render())
        assert "o small" in chart or "o wide" in chart  # legend by marker
        await pilot.press("m")
        assert compare.metric == "perplexity"
        await pilot.press("escape")
        assert app.screen is browser
        await pilot.pause()
        assert "comparing" not in str(title.content) and "runs in" in str(title.content)


async def test_tag_and_note_are_saved_and_shown(tmp_path, fake_factory) -> None:
    runs = make_runs(tmp_path)
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(140, 40)) as pilot:
        browser = await open_browser(pilot)
        await cursor_to(pilot, browser, "wide")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPrompt))
        await answer(pilot, "baseline [b]x[/b]")
        await wait_until(pilot, lambda: browser.loaded and app.screen is browser)
        await wait_until(pilot, lambda: any(r.tags for r in browser.rows))
        row = next(r for r in browser.rows if r.run_id == "wide")
        assert row.tags == ("baseline", "[b]x[/b]")
        assert json.loads((runs / "wide" / "meta.json").read_text())["tags"] == list(row.tags)
        await cursor_to(pilot, browser, "wide")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPrompt))
        await answer(pilot, "wider")
        await wait_until(pilot, lambda: any(r.note for r in browser.rows))
        assert json.loads((runs / "wide" / "meta.json").read_text())["note"] == "wider"
        # Filter by tag, then sort: the table follows.
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPrompt))
        await answer(pilot, "tag=baseline")
        await wait_until(pilot, lambda: [r.run_id for r in browser.rows] == ["wide"])
        browser.filter = ""
        browser.sort = "-started"
        await pilot.press("s")  # next order: best validation loss first
        assert browser.sort == "best_val"
        assert [r.run_id for r in browser.rows][:2] == ["wide", "small"]


async def test_delete_refuses_a_running_run_and_confirms_others(tmp_path, fake_factory) -> None:
    runs = make_runs(tmp_path)
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(140, 40)) as pilot:
        browser = await open_browser(pilot)
        await cursor_to(pilot, browser, "live")
        assert browser.current().summary.state == "running"
        await pilot.press("D")
        await pilot.pause()
        assert app.screen is browser and (runs / "live").exists()  # refused, nothing asked
        await cursor_to(pilot, browser, "small")
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("n")  # declining keeps it
        assert (runs / "small").exists()
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: not (runs / "small").exists())
        await wait_until(pilot, lambda: "small" not in [r.run_id for r in browser.rows])


async def test_sweeps_view_lists_trials_and_stops_a_running_one(
    tmp_path, fake_factory, corpus
) -> None:
    from engine.experiments.sweep import default_storage, open_study
    from engine.experiments.sweep_space import parse_space
    from engine.run.folder import COMMANDS_FILE

    runs = make_runs(tmp_path)
    space = parse_space(
        {"name": "sw", "method": "grid", "set": {"data_file": str(corpus)},
         "fields": {"hidden_dim": [16, 32]}}
    )  # fmt: skip
    study = open_study(space, default_storage(runs))
    done = study.ask({"hidden_dim": CategoricalDistribution([16, 32])})
    done.set_user_attr("run_id", "small")
    study.tell(done, 1.5)
    live = study.ask()
    live.set_user_attr("run_id", "live")
    live.set_user_attr("host", socket.gethostname())
    live.set_user_attr("pid", os.getpid())
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_browser(pilot)
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SweepsScreen))
        sweeps = app.screen
        await wait_until(pilot, lambda: sweeps.loaded and len(sweeps.trials) == 2)
        assert [t.state for t in sweeps.trials] == ["complete", "running"]
        table = sweeps.query_one("#sweeps-trials", DataTable)
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("x")
        command = json.loads((runs / "live" / COMMANDS_FILE).read_text().splitlines()[-1])
        assert command["kind"] == "stop"


async def test_keys_in_an_empty_sweeps_list_change_nothing(tmp_path, fake_factory) -> None:
    """No sweeps yet: arrows in the empty list highlighted "no row", which crashed the
    dashboard (the key fuzz found it)."""
    app = make_app(trainer_factory=fake_factory, runs_dir=make_runs(tmp_path))
    async with app.run_test(size=(140, 40)) as pilot:
        await open_browser(pilot)
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SweepsScreen))
        sweeps = app.screen
        await wait_until(pilot, lambda: sweeps.loaded)
        sweeps.query_one("#sweeps-list", DataTable).focus()
        await pilot.press("down", "end", "up", "home", "pagedown", "enter")
        await pilot.pause()
        assert app.is_running and app.screen is sweeps and sweeps.sweep == ""
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SweepsScreen))
