"""Notifications are plain text from every caller (the tmux key fuzz found the crash)."""

from __future__ import annotations

from tui.dashboard.launch import make_app

# What the fuzz typed into the config's path box before Save: "Saved <path>" went through
# Widget.notify, whose markup=True default crashed the toast (MarkupError, exit 1).
TYPED = 'Q$"_/w)[cvR<kajjki90X%[b=R%C#[@click=app.bell]+)D2[@click=app.bell]Jt'


async def test_a_widgets_notification_with_markup_like_text_is_shown_as_typed(
    fake_factory,
) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.main_screen.editor
        editor.notify(f"Saved {TYPED}")  # Widget.notify: markup=True unless told
        app.main_screen.notify(f"Deleted {TYPED}.")  # a screen's
        app.screen.notify("[bold]x[/]")
        await pilot.pause(0.3)  # the toasts render
        assert app.is_running
        messages = [n.message for n in app._notifications]
        assert f"Saved {TYPED}" in messages and "[bold]x[/]" in messages
        assert all(not n.markup for n in app._notifications)
