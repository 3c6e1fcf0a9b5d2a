"""The status line's tokens/s and ETA: "compiling" during the first step, the engine's ETA
(pauses and compilation excluded) counting down, frozen while paused."""

from __future__ import annotations

import time

from engine import events as ev
from tui.dashboard.launch import make_app
from tui.dashboard.session import RunStats
from tui.dashboard.widgets.status_bar import render_stats


def started() -> ev.RunStarted:
    return ev.RunStarted(
        run_id="r", config={"model": "gpt"}, n_params=10, device="cpu", dtype="bfloat16",
        total_steps=0, steps_per_epoch=10, vocab_size=65, train_tokens=100, val_tokens=10,
    )  # fmt: skip


def step(n: int, eta_s: float) -> ev.StepCompleted:
    return ev.StepCompleted(
        step=n, epoch=0, loss=2.0, lr=1e-3, tokens_per_s=12_345.0, grad_norm=1.0,
        elapsed_s=40.0, total_steps=0, eta_s=eta_s, progress=0.1,
    )  # fmt: skip


async def test_compiling_then_engine_eta(fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        app.main_screen.apply_event(started())
        app.main_screen.apply_event(ev.RunNotice("compiling", "compiling the model", 0))
        await pilot.pause()
        text = render_stats(app.session.stats).plain
        assert "tok/s compiling…" in text and "ETA —" in text
        # On the notice line above the footer, not a toast over the charts (issue 14).
        assert "compiling the model" in app.main_screen.notices.text

        app.main_screen.apply_event(step(1, eta_s=100.0))
        text = render_stats(app.session.stats).plain
        assert "tok/s 12,345" in text and "ETA 1m40s" in text  # not 40 s x steps left

        app.main_screen.apply_event(ev.RunPaused(step=1))
        frozen = app.session.stats.eta_s()
        assert frozen is not None and 99 <= frozen <= 100
        app.main_screen.apply_event(ev.RunResumed(step=1))
        assert 99 <= (app.session.stats.eta_s() or 0) <= 100  # the pause did not count down


def test_eta_counts_down_between_reports_but_not_while_paused() -> None:
    stats = RunStats(state="running", reported_eta_s=100.0, eta_at=time.monotonic() - 10)
    assert 89 <= (stats.eta_s() or 0) <= 90.5
    stats.state = "paused"
    assert stats.eta_s() == 100.0
