"""Textual work-arounds (tui/dashboard/textual_fixes.py) hold: each test fails on Textual alone."""

from __future__ import annotations

import time

import pytest
from textual.app import App
from textual.notifications import Notification
from textual.widgets._toast import Toast

import tui.dashboard.textual_fixes  # noqa: F401  (the dashboard imports it with tui.dashboard.app)


@pytest.mark.timeout(60)  # without the fix the app spins and never closes
async def test_a_toast_built_after_its_notification_expired_goes_away() -> None:
    """Its timer got a negative delay, which Textual's Timer never finishes: the UI thread
    spun at 100% CPU and the toast stayed for good."""
    app = App[None]()
    async with app.run_test() as pilot:
        expired = Notification("gone", timeout=1.0, raised_at=time.time() - 1.0023)
        toast = Toast(expired)
        assert toast._timeout < 0  # what Textual's ToastRack can build
        await app.screen.mount(toast)
        for _ in range(50):
            await pilot.pause(0.02)
            if not toast.is_attached:
                break
        assert not toast.is_attached
