"""What the every-key fuzz (tests/e2e/test_key_fuzz.py) found in the command palette, pinned.

Keys here are sent as a terminal delivers them, in one burst, without waiting for the app
between them (Pilot.press waits after each key, which hides all three):

1. ctrl+p with a palette already open under the too-small notice (a resize came): Textual
   looks only at the top screen, so it opened a second palette, whose duplicate id crashed
   the app (DuplicateIds).
2. Page Up or Page Down in a palette whose list was not laid out yet: KeyError 0 inside
   Textual's OptionList.
3. A palette closing while another screen is above it (the too-small notice came up between
   the key and its action): Textual's dismiss pops the top screen, whichever it is, so the
   notice went instead of the palette and the palette's own later close popped the main
   screen from under the app.
4. ctrl+p typed right after q: the app was closing, so the palette mounted without its list,
   and its search (a worker) crashed on the missing list (NoMatches, as WorkerFailed).
"""

from __future__ import annotations

from conftest import wait_until
from textual import events
from textual.command import CommandPalette
from textual.geometry import Size

from tui.dashboard.launch import make_app
from tui.dashboard.screens.main import MainScreen
from tui.dashboard.screens.too_small import TooSmallScreen


def _send(app, *keys: str) -> None:
    """Queue ``keys`` (and ``<WxH>`` resizes) at once, as a terminal's burst."""
    for key in keys:
        if key.startswith("<"):
            width, height = map(int, key[1:-1].split("x"))
            message = events.Resize(Size(width, height), Size(width, height))
        else:
            message = events.Key(key, key if len(key) == 1 else None)
        message.set_sender(app)
        app._driver.send_message(message)


def _stack(app) -> list[str]:
    return [
        "CommandPalette" if isinstance(screen, CommandPalette) else type(screen).__name__
        for screen in app.screen_stack
    ]


async def test_ctrl_p_over_a_palette_under_the_size_notice(fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        _send(app, "<40x10>")
        await wait_until(pilot, lambda: isinstance(app.screen, TooSmallScreen))
        _send(app, "ctrl+p")
        await pilot.pause()
        assert _stack(app) == ["MainScreen", "CommandPalette", "TooSmallScreen"]
        _send(app, "<120x40>")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        _send(app, "escape")
        await wait_until(pilot, lambda: _stack(app) == ["MainScreen"])
    assert app.return_code in (None, 0)  # a crash is 1 (and raises on leaving)


async def test_no_palette_over_the_size_notice(fake_factory) -> None:
    """The resize is handled before the ctrl+p typed before it: the palette would open over
    the notice, which then stayed under it, shown at full size once the palette closed."""
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        _send(app, "ctrl+p", "<40x10>")
        await wait_until(pilot, lambda: "TooSmallScreen" in _stack(app))
        await pilot.pause()
        assert _stack(app)[-1] == "TooSmallScreen", _stack(app)
        _send(app, "<120x40>")
        await wait_until(pilot, lambda: "TooSmallScreen" not in _stack(app))
        if isinstance(app.screen, CommandPalette):
            _send(app, "escape")
        await wait_until(pilot, lambda: _stack(app) == ["MainScreen"])
    assert app.return_code in (None, 0)  # a crash is 1 (and raises on leaving)


async def test_page_keys_in_a_palette_that_has_just_opened(fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        for keys in (["pageup"], ["down", "pagedown"], ["a", "pageup"]):
            _send(app, "ctrl+p", *keys)
            await pilot.pause()
            assert isinstance(app.screen, CommandPalette), _stack(app)
            _send(app, "escape")
            await pilot.pause()
            assert _stack(app) == ["MainScreen"]
    assert app.return_code in (None, 0)  # a crash is 1 (and raises on leaving)


async def test_a_palette_under_another_screen_never_closes_that_screen(fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        _send(app, "<40x10>")
        await wait_until(pilot, lambda: isinstance(app.screen, TooSmallScreen))
        # What an Escape or Enter read just before the resize does once it is handled.
        palette._action_escape()
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen), _stack(app)
        palette._action_escape()
        await pilot.pause()
        assert isinstance(app.screen_stack[0], MainScreen), _stack(app)
        _send(app, "<120x40>")
        await wait_until(pilot, lambda: not isinstance(app.screen, TooSmallScreen))
        assert app.screen is palette
        await pilot.press("escape")
        await wait_until(pilot, lambda: _stack(app) == ["MainScreen"])
    assert app.return_code in (None, 0)  # a crash is 1 (and raises on leaving)


async def test_ctrl_p_right_after_quit(fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        _send(app, "q", "ctrl+p", "ctrl+p")
        for _ in range(10):
            await pilot.pause(0.02)
    assert app.return_code == 0
