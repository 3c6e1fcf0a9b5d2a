"""At 80x24 the footer keeps q Quit, the charts keep their rows, and startup notices sit on
their own line instead of piling up as toasts over the lower chart."""

from __future__ import annotations

import io

from rich.console import Console
from test_snapshots import play_events, scripted_app

from engine import events as ev


def screen_lines(app) -> list[str]:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


NOTES = ("precision: bfloat16 autocast", "threads: 16", "compile: fell back to eager")


async def test_80x24_keeps_quit_readable_charts_and_notices_on_a_line() -> None:
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await play_events(pilot)
        app.main_screen.apply_event(
            ev.RunStarted(
                run_id="r",
                config={},
                n_params=1,
                device="cpu",
                dtype="bfloat16",
                total_steps=1000,
                steps_per_epoch=250,
                vocab_size=65,
                train_tokens=1,
                val_tokens=1,
                notes=NOTES,
            )
        )
        app.main_screen.tick()
        await pilot.pause()
        lines = screen_lines(app)
        assert "q Quit" in lines[-1]
        # The notices are one line above the footer, not toasts over the charts.
        assert app.main_screen.notices.display and app.main_screen.notices.text == " · ".join(NOTES)
        assert NOTES[0] in lines[-2]
        assert not any(note in n.message for n in app._notifications for note in NOTES)
        # Both charts keep enough rows for a curve (one row of keys: no buttons repeat them).
        for chart in (app.main_screen.loss_chart, app.main_screen.metric_chart):
            assert chart.region.height >= 8, chart.region
        assert not app.query("#controls")
        loss_rows = "\n".join(lines[3 : 3 + app.main_screen.loss_chart.region.height])
        assert "loss" in loss_rows and "300" in loss_rows
