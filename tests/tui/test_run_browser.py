"""The run browser: list real run folders with their states, open, attach, resume, overlay."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEXT, wait_until
from textual.widgets import DataTable

from engine.config.schema import RunConfig
from engine.control import Control
from engine.events import RunFinished, StepCompleted
from engine.run.lock import RunLock
from engine.train.trainer import Trainer
from tui.dashboard.launch import make_app
from tui.dashboard.run_rows import read_rows
from tui.dashboard.screens.run_browser import RunBrowser
from tui.dashboard.trainer_factory import default_trainer_factory


def tiny(corpus: Path, **changes) -> RunConfig:
    base = RunConfig(
        data_file=str(corpus),
        seq_length=16,
        batch_size=4,
        embedding_dim=16,
        hidden_dim=32,
        epochs=50,
        max_steps=30,
        eval_interval=10,
        eval_max_windows=4,
        sample_length=10,
        device="cpu",
        num_threads=1,
    )
    return base.model_copy(update=changes)


def strip_terminal_events(folder: Path) -> None:
    """Make the log look like a process that died mid-run: no RunFinished at the end."""
    log = folder / "events.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["type"] != RunFinished.type]
    log.write_text("".join(kept), encoding="utf-8")


def write_lock(folder: Path, pid: int) -> None:
    info = {"pid": pid, "host": socket.gethostname(), "started": 0.0}
    (folder / "run.lock").write_text(json.dumps(info), encoding="utf-8")


@pytest.fixture(scope="module")
def built_runs(tmp_path_factory) -> Path:
    """Real tiny runs: finished LSTM, finished GPT, stopped at step 10, and copies of the
    stopped one that look interrupted (dead lock) and running (live lock)."""
    root = tmp_path_factory.mktemp("browser")
    corpus = root / "tiny.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    runs = root / "runs"
    Trainer(tiny(corpus), runs_dir=runs, run_id="a-lstm-done").run(lambda event: None)
    gpt = tiny(corpus, model="gpt", n_layer=1, n_head=2, n_embd=16, max_steps=20)
    Trainer(gpt, runs_dir=runs, run_id="b-gpt-done").run(lambda event: None)

    control = Control()

    def stop_at_ten(event) -> None:
        if isinstance(event, StepCompleted) and event.step == 10:
            control.stop()

    Trainer(tiny(corpus), runs_dir=runs, run_id="c-stopped").run(stop_at_ten, control)
    for name in ("d-interrupted", "e-running"):
        shutil.copytree(runs / "c-stopped", runs / name)
        strip_terminal_events(runs / name)
        _own_checkpoints(runs / name)
    # A dead trainer's lock file stays behind; its pid (now this live process's) must not
    # make the run look alive: liveness is the OS lock, held per test for e-running.
    write_lock(runs / "d-interrupted", os.getpid())
    return runs


def _own_checkpoints(run_dir: Path) -> None:
    """A copied folder's checkpoints name the run they were copied from, and resume refuses
    a foreign checkpoint: make the copies this folder's own, as if it had trained them."""
    import torch

    for path in run_dir.glob("*.pt"):
        payload = torch.load(path, map_location="cpu", weights_only=False)
        payload["run_id"] = run_dir.name
        torch.save(payload, path)


@pytest.fixture
def runs(built_runs: Path, tmp_path: Path) -> Iterator[Path]:
    """A fresh copy per test: resuming and attaching write into run folders. e-running's
    lock is held (as its live trainer would) for the test's length."""
    copy = Path(shutil.copytree(built_runs, tmp_path / "runs"))
    lock = RunLock(copy / "e-running")
    lock.acquire()
    yield copy
    lock.release()


async def open_browser(pilot) -> RunBrowser:
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RunBrowser))
    browser = pilot.app.screen
    await wait_until(pilot, lambda: browser.loaded)
    return browser


async def cursor_to(pilot, browser: RunBrowser, run_id: str) -> None:
    index = [row.run_id for row in browser.rows].index(run_id)
    browser.table.move_cursor(row=index)
    await pilot.pause()


async def test_browser_lists_runs_with_states(runs: Path, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(pilot)
        states = {row.run_id: row.summary.state for row in browser.rows}
        assert states == {
            "a-lstm-done": "finished",
            "b-gpt-done": "finished",
            "c-stopped": "stopped",
            "d-interrupted": "interrupted",
            "e-running": "running",
        }
        table = browser.query_one(DataTable)
        assert table.row_count == 5
        cells = {str(table.get_row_at(i)[1]): table.get_row_at(i) for i in range(5)}
        # Columns by priority: mark, run, state, best val, steps, model, config, tags.
        _, _, _, best, steps, model, detail, _ = cells["b-gpt-done"]
        assert model == "gpt" and detail.startswith("1L 2H 16d")
        assert steps == "20/20" and best != "—"
        assert cells["a-lstm-done"][6].startswith("1x32 emb 16")
        assert cells["c-stopped"][4] == "10/30"
        assert str(cells["d-interrupted"][2]) == "interrupted"

        # Resume is refused for a finished run (nothing to resume) and keeps the browser.
        await cursor_to(pilot, browser, "a-lstm-done")
        await pilot.press("r")
        assert app.screen is browser and not fake_factory.made
        await pilot.press("escape")
        assert not isinstance(app.screen, RunBrowser)


async def test_open_run_fills_charts_and_loads_its_checkpoint(runs: Path, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(pilot)
        await cursor_to(pilot, browser, "a-lstm-done")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.session.loaded is not None, timeout=30)
        assert app.main_screen.loss_chart.val_steps == [10, 20, 30]
        assert len(app.main_screen.loss_chart.train_steps) == 30
        assert app.main_screen.pager.samples, "the run's samples are replayed"
        assert app.session.stats.run_id == "a-lstm-done" and app.session.stats.total_steps == 30
        assert app.session.stats.state == "finished"
        assert (
            app.main_screen.editor.config is not None
            and app.main_screen.editor.config.max_steps == 30
        )
        assert app.main_screen.tabs.active == "generate"

        app.main_screen.generation.length = 15
        await pilot.press("g")
        await wait_until(pilot, lambda: app.main_screen.generation.state == "done", timeout=30)
        assert app.main_screen.generation.source_name == "checkpoint a-lstm-done"
        assert len(app.main_screen.generation.output) == 15


async def test_overlay_two_runs_with_legend_then_clear(runs: Path, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(pilot)
        await cursor_to(pilot, browser, "a-lstm-done")
        await pilot.press("space")
        await cursor_to(pilot, browser, "b-gpt-done")
        await pilot.press("space")
        assert browser.marked == {"a-lstm-done", "b-gpt-done"}
        chart = app.main_screen.loss_chart
        await pilot.press("o")
        await wait_until(pilot, lambda: len(chart.overlays) == 2, timeout=30)
        by_label = {o.label: o for o in chart.overlays}
        assert by_label.keys() == {"a-lstm-done", "b-gpt-done"}
        assert by_label["a-lstm-done"].steps == [10, 20, 30]
        assert by_label["b-gpt-done"].steps == [10, 20]

        # Drawn by the app's chart timer, with the run ids in the legend. Waited for by what
        # the chart shows, not by counting redraws: the timer may draw the overlays before
        # the count is taken, and then never again (a clean chart is not redrawn; CI flaked).
        def legend_shown() -> bool:
            rendered = str(chart.render())
            return "a-lstm-done" in rendered and "b-gpt-done" in rendered

        await wait_until(pilot, legend_shown, timeout=30)

        await pilot.press("o")  # the dashboard's key clears it
        assert chart.overlays == []


async def test_resume_key_continues_an_interrupted_run(runs: Path) -> None:
    resumed: list[str | None] = []
    real = default_trainer_factory(runs)

    def factory(config: RunConfig, resume: str | None):
        resumed.append(resume)
        return real(config, resume)

    app = make_app(trainer_factory=factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(pilot)
        await cursor_to(pilot, browser, "d-interrupted")
        await pilot.press("r")
        await wait_until(pilot, lambda: app.session.stats.state == "finished", timeout=60)
        assert resumed == [str(runs / "d-interrupted")]
        assert app.session.stats.start_step == 10 and app.session.stats.step == 30
        assert isinstance(app.session.terminal_event, RunFinished)
    assert (runs / "d-interrupted" / "latest.pt").is_file()


async def test_attach_follows_a_running_run(runs: Path, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(pilot)
        await cursor_to(pilot, browser, "c-stopped")
        await pilot.press("a")  # not running: refused, the browser stays
        assert app.screen is browser
        await cursor_to(pilot, browser, "e-running")
        await pilot.press("a")
        await wait_until(pilot, lambda: app.session.stats.step == 10, timeout=30)
        assert app.session.attached == runs / "e-running"
        assert app.session.stats.state == "running"  # its lock is live: the run is followed
        assert app.main_screen.loss_chart.val_steps == [10]
        assert not fake_factory.made, "attaching never starts a trainer here"
        await pilot.press("d")
        assert app.session.stats.state == "detached"

        # Following it again replays the whole log once: nothing missed, nothing doubled.
        await pilot.press("d")
        await wait_until(pilot, lambda: app.session.stats.step == 10, timeout=30)
        await pilot.pause(0.3)
        assert app.main_screen.loss_chart.train_steps == list(range(1, 11))
        assert app.main_screen.loss_chart.val_steps == [10]


async def test_open_run_without_checkpoint_shows_charts_and_says_why(
    runs: Path, fake_factory
) -> None:
    for checkpoint in (runs / "c-stopped").glob("*.pt"):
        checkpoint.unlink()
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(pilot)
        await cursor_to(pilot, browser, "c-stopped")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.main_screen.loss_chart.val_steps == [10], timeout=30)
        assert app.session.loaded is None and app.session.stats.state == "stopped"
        assert any("no checkpoint" in n.message for n in app._notifications)
        await pilot.press("r")  # the browser again: resuming needs latest.pt
        browser = app.screen
        await wait_until(pilot, lambda: browser.loaded)
        await cursor_to(pilot, browser, "c-stopped")
        await pilot.press("r")
        assert app.screen is browser and not fake_factory.made


@pytest.mark.parametrize(
    ("run_id", "state"), [("a-lstm-done", "finished"), ("c-stopped", "stopped")]
)
async def test_run_option_shows_the_runs_state_not_idle(
    runs: Path, fake_factory, run_id: str, state: str
) -> None:
    app = make_app(run=run_id, trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.session.stats.state == state  # the same word the run browser uses
        assert {r.run_id: r.summary.state for r in read_rows(runs)}[run_id] == state


async def _s_after_opening(pilot, app, fake_factory, name: str) -> None:
    """s after a run was opened: the first s says what s does, the second starts a NEW run
    with that run's config."""
    await pilot.press("s")
    await pilot.pause()
    assert any("s trains a NEW run" in n.message for n in app._notifications), "said first"
    assert not fake_factory.made and not app.session.running, "nothing starts on the first s"
    await pilot.press("s")
    await wait_until(pilot, lambda: bool(fake_factory.made), timeout=30)
    [trainer] = fake_factory.made
    assert trainer.resume is None, f"s must not write into {name}"
    assert trainer.config.max_steps == 30, "with the opened run's config"


async def test_s_after_run_option_starts_a_new_run(runs: Path, fake_factory) -> None:
    app = make_app(run="c-stopped", trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await _s_after_opening(pilot, app, fake_factory, "c-stopped")


async def test_s_after_opening_from_the_browser_starts_a_new_run(runs: Path, fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(pilot)
        await cursor_to(pilot, browser, "c-stopped")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.main_screen.loss_chart.val_steps == [10], timeout=30)
        await _s_after_opening(pilot, app, fake_factory, "c-stopped")


async def test_keys_queued_after_a_choice_do_not_dismiss_the_browser_twice(
    runs: Path, fake_factory
) -> None:
    """o then Escape, read before the browser is gone: the overlay is kept and nothing
    crashes (the second dismiss raised InvalidStateError in Textual and ended the app)."""
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(pilot)
        await cursor_to(pilot, browser, "a-lstm-done")
        browser.action_overlay()  # dismissed with a choice...
        browser.action_close()  # ...and Escape, handled before the screen was popped
        await wait_until(pilot, lambda: not isinstance(app.screen, RunBrowser))
        await wait_until(pilot, lambda: len(app.main_screen.loss_chart.overlays) == 1, timeout=30)
        assert app.is_running


async def test_a_key_queued_for_the_browser_does_not_close_the_screen_above_it(
    runs: Path, fake_factory
) -> None:
    """A choice that reaches the browser while its filter prompt is open on top of it: the
    prompt stays, and Escape closes the prompt and then the browser (the choice popped the
    prompt instead, and the browser could never be closed)."""
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TextPrompt")
        prompt = app.screen
        browser.action_choose("clear")  # a key the browser read before the prompt opened
        await pilot.pause()
        assert app.screen is prompt
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is browser)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, RunBrowser))
