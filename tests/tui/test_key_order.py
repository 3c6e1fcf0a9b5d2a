"""Keys typed in a burst act in the order typed (Textual #6605; tui/dashboard/textual_fixes.py).

Keys are posted to the App with no wait between them, as one read of a slow SSH link
delivers them; Pilot's press waits for the app to go idle after each key, which hides this.
"""

from __future__ import annotations

import pytest
from keyburst import burst
from textual.app import App, ComposeResult
from textual.widgets import Input

from tui.dashboard import textual_fixes
from tui.dashboard.launch import make_app

TYPED_BA_BACKSPACE_C = ("b", "a", "backspace", "c")


class OneBox(App[None]):
    def compose(self) -> ComposeResult:
        yield Input(id="box")


async def typed(app: App, pilot, selector: str, *keys: str, start: str = "") -> str:
    box = app.query_one(selector, Input)
    box.value = start
    box.cursor_position = 0
    textual_fixes.focus_now(box)
    await pilot.pause()
    burst(app, *keys)
    await pilot.pause(0.2)
    return box.value


async def test_bare_textual_still_reorders_a_burst() -> None:
    """When this fails, Textual has fixed #6605 (pull request #6631 released): remove the
    Input work-around from tui/dashboard/textual_fixes.py, and this test."""
    textual_fixes.remove()
    try:
        app = OneBox()
        async with app.run_test() as pilot:
            value = await typed(app, pilot, "#box", *TYPED_BA_BACKSPACE_C)
    finally:
        textual_fixes.apply()
    assert value == "ba", (
        f"bare Textual typed {value!r} in order: #6605 is fixed upstream, "
        "remove the Input work-around in tui/dashboard/textual_fixes.py"
    )


async def test_a_burst_into_a_bare_input_is_typed_in_order() -> None:
    app = OneBox()
    async with app.run_test() as pilot:
        assert await typed(app, pilot, "#box", *TYPED_BA_BACKSPACE_C) == "bc"


@pytest.mark.parametrize(
    ("selector", "start", "keys", "expected"),
    [
        ("#config-filter", "", TYPED_BA_BACKSPACE_C, "bc"),
        ("#field-batch_size", "0.005", ("end", *["backspace"] * 5, *"256"), "256"),
        ("#field-learning_rate", "0.005", ("end", *["backspace"] * 5, *"0.001"), "0.001"),
        ("#field-learning_rate", "0.005", ("home", "delete", "delete", *"1.", "end"), "1.005"),
        ("#gen-prompt", "ROMEO:", ("end", "left", "backspace", *"EO", "right", " "), "ROMEEO: "),
    ],
)
async def test_a_burst_into_a_dashboard_field_is_typed_in_order(
    selector: str, start: str, keys: tuple[str, ...], expected: str
) -> None:
    """Without the work-around the config fields ended empty or as "000.0"."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        tab = "generate" if selector == "#gen-prompt" else "config"
        app.main_screen.tabs.active = tab
        await pilot.pause()
        assert await typed(app, pilot, selector, *keys, start=start) == expected


async def test_keys_typed_right_after_slash_go_into_the_filter() -> None:
    """/ focuses the filter box; the letters typed right after it are text, not keys (l, a,
    r, n are dashboard keys: they ran before the focus moved)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        burst(app, "/", *"learn")
        await pilot.pause(0.3)
        box = app.query_one("#config-filter", Input)
        assert app.focused is box
        assert box.value == "learn"
        assert app.screen is app.main_screen  # r did not open the run browser
