"""Small pieces of the dashboard, tested without a terminal."""

from __future__ import annotations

import threading
from pathlib import Path

from conftest import wait_until
from hypothesis import given
from hypothesis import strategies as st

from tui.dashboard.keys import bindings
from tui.dashboard.launch import make_app, run_dashboard
from tui.dashboard.messages import DrainBuffer
from tui.dashboard.screens.help import key_rows, keys_markdown
from tui.dashboard.session import RunStats
from tui.dashboard.widgets.charts.loss_chart import MAX_MARKS, bucket_means, step_ticks, thin
from tui.dashboard.widgets.generation_pane import TOP_K_STEPS
from tui.dashboard.widgets.status_bar import format_duration, render_stats

ROOT = Path(__file__).resolve().parents[2]


@given(st.lists(st.floats(-10, 10), min_size=1, max_size=3000))
def test_bucket_means_bounds_points_and_keeps_range(ys: list[float]) -> None:
    xs = list(range(1, len(ys) + 1))
    out_x, out_y = bucket_means(xs, ys, limit=300)
    assert len(out_x) == len(out_y) <= 300
    assert out_x[-1] == xs[-1]
    assert min(ys) - 1e-9 <= min(out_y) and max(out_y) <= max(ys) + 1e-9


def test_thin_and_ticks() -> None:
    assert thin([1, 2, 3]) == [1, 2, 3]
    assert len(thin(list(range(1000)))) <= MAX_MARKS
    assert step_ticks(1, 3000) == [1, 751, 1500, 2250, 3000]
    assert step_ticks(5, 5) == [5]


def test_drain_buffer_announces_once_per_drain() -> None:
    buffer: DrainBuffer[int] = DrainBuffer()
    notices = []

    def produce() -> None:
        for i in range(10_000):
            if buffer.push(i):
                notices.append(i)

    threads = [threading.Thread(target=produce) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(notices) == 1
    assert len(buffer.drain()) == 20_000
    assert buffer.push(1) is True


def test_status_formatting() -> None:
    assert format_duration(None) == "—"
    assert format_duration(3723) == "1h02m03s"
    assert format_duration(65) == "1m05s"
    stats = RunStats(state="paused", step=50, total_steps=200, elapsed_s=10.0, run_id="x" * 80)
    assert stats.eta_s() == 30.0
    text = render_stats(stats, 80).plain.splitlines()
    assert len(text) == 3 and all(len(line) <= 80 for line in text)
    assert "step 50/200" in text[0] and "ETA 30s" in text[1] and "…" in text[2]


def test_keys_md_is_the_help_table() -> None:
    """tui/dashboard/KEYS.md (for the README) must list exactly the keys the app binds."""
    expected = keys_markdown(key_rows(bindings()))
    assert (ROOT / "tui" / "dashboard" / "KEYS.md").read_text(encoding="utf-8") == expected


def test_bad_config_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert run_dashboard(str(tmp_path / "missing.json"), None) == 2
    assert "file not found" in capsys.readouterr().err


async def test_view_toggles_and_sampling_keys(fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l", "b")
        assert app.main_screen.loss_chart.log_scale and app.main_screen.metric_chart.log_scale
        assert app.main_screen.metric_chart.show_bits
        await pilot.press("right_curly_bracket", "right_curly_bracket", "minus", "minus")
        pane = app.main_screen.generation
        assert pane.top_k == TOP_K_STEPS[2]
        assert pane.top_p == 0.9
        assert app.main_screen.tabs.active == "generate"
        await pilot.press("equals_sign", "plus", "left_curly_bracket")
        assert pane.top_p == 1.0 and pane.top_k == TOP_K_STEPS[1]
        await pilot.press("1")
        assert app.main_screen.tabs.active == "config"
        await pilot.press("e")
        await wait_until(pilot, lambda: app.focused is not None)
        assert app.focused.id == "field-data_file"


async def test_log_scale_and_odd_values(fake_factory, monkeypatch) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        steps = [(i, 4.0 / i) for i in range(1, 40)] + [(40, float("nan")), (41, float("inf"))]
        app.main_screen.loss_chart.add_steps(steps)
        for step in (10, 20, 30):
            app.main_screen.loss_chart.add_eval(step, 4.0 / step + 0.1)
            app.main_screen.metric_chart.add_eval(step, 12.0 / step + 1, 3.0 / step + 1)
        await pilot.press("l")
        app.main_screen.tick()
        await pilot.pause()
        assert app.main_screen.loss_chart.train_steps[-1] == 39  # non-finite losses are not drawn
        assert "chart unavailable" not in str(app.main_screen.loss_chart.render())
        assert "log" in str(app.main_screen.loss_chart.render())

        # A plotext failure on odd data is shown in the chart, never a crash.
        def broken_build() -> str:
            raise IndexError("list index out of range")

        monkeypatch.setattr(app.main_screen.loss_chart.plt, "build", broken_build)
        assert "chart unavailable" in str(app.main_screen.loss_chart.render())


async def test_editor_save_reset_load(fake_factory, tmp_path: Path) -> None:
    from textual.widgets import Input

    app = make_app(trainer_factory=fake_factory)
    target = tmp_path / "mine.json"
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.main_screen.editor
        editor.inputs["hidden_dim"].value = "96"
        editor.query_one("#config-path", Input).value = str(target)
        await pilot.click("#config-save")
        assert '"hidden_dim": 96' in target.read_text(encoding="utf-8")

        await pilot.click("#config-reset")
        assert editor.config is not None and editor.config.hidden_dim == 128

        await pilot.click("#config-load")
        assert editor.config is not None and editor.config.hidden_dim == 96

        # An invalid form is never saved.
        editor.inputs["hidden_dim"].value = "-1"
        await pilot.pause()
        await pilot.click("#config-save")
        assert '"hidden_dim": 96' in target.read_text(encoding="utf-8")
        assert editor.problems.keys() == {"hidden_dim"}
