"""What the key fuzz (tests/e2e/test_key_fuzz.py) found, pinned as fast tests.

1. A config field's error quoted the typed value as markup: ``[b=`` in a number field raised
   MarkupError and ended the dashboard (main has since made the error labels markup=False).
2. That crash then exited with status 0, like a clean quit, because ``run_dashboard`` returned
   ``app.run()`` (the value given to ``exit()``, None after a crash) ``or 0``.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from test_app_pilot import type_into
from textual.widgets import Label

from tui.dashboard import launch
from tui.dashboard.launch import make_app, run_dashboard


@pytest.mark.parametrize("typed", ["[b=", "[/]", "[bold]x[/b]", "[@click=app.quit]"])
async def test_markup_typed_into_a_config_field_is_shown_as_text(fake_factory, typed) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_into(pilot, "#field-learning_rate", typed)
        await pilot.pause()
        assert app.is_running and app.return_code is None
        error = str(app.query_one("#error-learning_rate", Label).render())
        assert f"got '{typed}'" in error, error
        assert app.main_screen.editor.problems.keys() == {"learning_rate"}


class _EndedApp:
    """What ``run_dashboard`` sees of a Textual app that has ended."""

    def __init__(self, value: int | None, return_code: int) -> None:
        self.value, self.return_code = value, return_code
        train_done = threading.Event()
        train_done.set()
        self.session = SimpleNamespace(attached=None, control=None, train_done=train_done)

    def run(self) -> int | None:
        return self.value


@pytest.mark.parametrize(
    ("value", "return_code", "status"),
    [(None, 1, 1), (0, 0, 0), (1, 0, 1)],
    ids=["crash", "clean-quit", "quit-after-failed-run"],
)
def test_exit_status_says_whether_the_dashboard_crashed(
    monkeypatch, value, return_code, status
) -> None:
    monkeypatch.setattr(launch, "make_app", lambda *a, **k: _EndedApp(value, return_code))
    assert run_dashboard(None, None) == status
