"""The dashboard's Save goes through the safe writer: a FIFO, a symlink or a folder in the path
box is refused with a notification, left as it was, and the dashboard and its form live on."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from textual.widgets import Input

from tui.dashboard.launch import make_app


def _messages(app) -> list[str]:
    return [notice.message for notice in app._notifications]


async def _click_save(pilot) -> None:
    """Click Save once it can be clicked again: a Button ignores a click while its 0.2 s
    "pressed" effect is on, which a loaded machine stretches (the test was flaky)."""
    button = pilot.app.main_screen.editor.query_one("#config-save")
    for _ in range(200):
        if not button.has_class("-active"):
            break
        await pilot.pause(0.02)
    await pilot.click("#config-save")


async def test_save_refuses_a_fifo_a_symlink_and_a_folder(fake_factory, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    outside = tmp_path / "outside.json"
    outside.write_text("keep", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(outside)
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.main_screen.editor
        editor.inputs["hidden_dim"].value = "96"
        box = editor.query_one("#config-path", Input)
        for path, reason in [
            (fifo, "it is a named pipe (FIFO), not a regular file"),
            (link, "it is a symbolic link, not a regular file"),
            (tmp_path, "it is a folder; give the path of a file"),
        ]:
            box.value = str(path)
            await _click_save(pilot)
            await pilot.pause()
            assert _messages(app)[-1].startswith(f"Cannot write {path}: {reason}")
            assert app.is_running
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
        assert outside.read_text(encoding="utf-8") == "keep" and link.is_symlink()
        assert sorted(os.listdir(tmp_path)) == ["link.json", "outside.json", "pipe.json"]
        # The form is not lost: a good path then saves what was typed.
        box.value = str(tmp_path / "mine.json")
        await _click_save(pilot)
        assert '"hidden_dim": 96' in (tmp_path / "mine.json").read_text(encoding="utf-8")
