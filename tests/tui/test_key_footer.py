"""The key footer has its keys in the first frame (Textual's Footer filled them in a refresh
later, behind the editor's rows: the keys were the last part of the dashboard's first
frame to appear), and rebuilds only when the keys it shows change."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey

from tui.dashboard.widgets.key_footer import KeyFooter


class Keys(App[None]):
    BINDINGS = [("f2", "start", "Start"), ("f3", "stop", "Stop")]  # noqa: RUF012 (keys an Input leaves)

    def __init__(self, footer: type[Footer]) -> None:
        super().__init__()
        self.footer_type = probe(footer)
        self.keys_at_mount: list[str] = []

    def compose(self) -> ComposeResult:
        yield Input(id="a")
        yield Input(id="b")
        yield self.footer_type(show_command_palette=False)

    def action_start(self) -> None: ...

    def action_stop(self) -> None: ...


def probe(footer: type[Footer]) -> type[Footer]:
    """The footer class, noting its keys when it has mounted (before any refresh: what
    the first frame can show)."""

    class Probe(footer):  # type: ignore[valid-type, misc]
        def on_mount(self) -> None:
            super().on_mount()
            self.app.keys_at_mount = [key.description for key in self.query(FooterKey)]

    return Probe


async def test_the_keys_are_there_when_the_footer_mounts() -> None:
    app = Keys(KeyFooter)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.keys_at_mount == ["Start", "Stop"]
        assert [key.description for key in app.query(FooterKey)] == ["Start", "Stop"]
    textual = Keys(Footer)
    async with textual.run_test():
        assert textual.keys_at_mount == []  # Textual's own footer: not yet


async def test_a_focus_change_that_keeps_the_keys_does_not_rebuild_them() -> None:
    app = Keys(KeyFooter)
    async with app.run_test() as pilot:
        await pilot.pause()
        before = list(app.query(FooterKey))
        await pilot.press("tab")  # focus moves from one text box to the other
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "b"
        assert list(app.query(FooterKey)) == before  # the same widgets: no rebuild
