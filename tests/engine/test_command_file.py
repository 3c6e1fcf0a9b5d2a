"""The commands file read by a trainer: each command exactly once, any bad line skipped with a
reason, a deleted or replaced file still heard, never a hang on a special file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from engine.control import Control
from engine.run.commands_file import (
    MAX_LINE_BYTES,
    CommandFile,
    RemoteCommandError,
    send_command,
)
from engine.run.folder import COMMANDS_FILE


def _kinds(control: Control) -> list[tuple[str, str, object]]:
    return [(c.kind, c.name, c.value) for c in control.drain()]


def test_a_line_appended_between_stat_and_read_is_delivered_once(tmp_path: Path) -> None:
    reader = CommandFile(tmp_path)
    send_command(tmp_path, "save")
    real = reader.path

    class AppendAfterStat(type(real)):  # type: ignore[misc]
        """The trainer stats, then another process appends before the trainer reads."""

        appended = False

        def stat(self, *args: object, **kwargs: object) -> os.stat_result:
            result = super().stat(*args, **kwargs)
            if not AppendAfterStat.appended:
                AppendAfterStat.appended = True
                send_command(tmp_path, "pause")
            return result

    reader.path = AppendAfterStat(real)
    control = Control()
    total = reader.poll(control) + reader.poll(control) + reader.poll(control)
    assert _kinds(control) == [("save", "", None), ("pause", "", None)]
    assert total == 2


BAD_LINES = [
    b'{"kind":"set","name":["x"],"value":1}',  # the TypeError that ended a run
    b'{"kind":"set","name":"learning_rate","value":[1,2]}',
    b'{"kind":"set","name":"sample_prompt","value":{"a":1}}',
    b'{"kind":["stop"]}',
    b'{"kind":"explode"}',
    b"[1, 2, 3]",
    b'"stop"',
    b"null",
    b"\xff\xfe\x00binary\x00",
    b'{"kind": "st',  # torn
    b"[" * 50_000,  # deep nesting
    b'{"kind":"set","name":"sample_prompt","value":"' + b"x" * 20_000 + b'"}',
]


def test_every_bad_line_is_skipped_with_a_reason_and_good_lines_still_arrive(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reader = CommandFile(tmp_path)
    with (tmp_path / COMMANDS_FILE).open("ab") as fh:
        for line in BAD_LINES:
            fh.write(line + b"\n")
        fh.write(b"x" * (MAX_LINE_BYTES * 3) + b"\n")  # huge, split across reads
    send_command(tmp_path, "set", "learning_rate", 0.001)
    control = Control()
    with caplog.at_level(logging.WARNING, logger="engine.run.commands_file"):
        while reader.poll(control):
            pass
        reader.poll(control)
    assert _kinds(control) == [("set", "learning_rate", 0.001)]
    skipped = [r for r in caplog.records if "skipping" in r.getMessage()]
    assert len(skipped) == len(BAD_LINES) + 1


def test_a_deleted_or_replaced_file_is_still_heard(tmp_path: Path) -> None:
    send_command(tmp_path, "save")
    reader = CommandFile(tmp_path)
    control = Control()
    (tmp_path / COMMANDS_FILE).unlink()
    assert reader.poll(control) == 0
    send_command(tmp_path, "pause")  # creates a new, shorter file
    assert reader.poll(control) == 1
    replacement = tmp_path / "new.jsonl"
    replacement.write_text('{"kind": "stop"}\n{"kind": "resume"}\n', encoding="utf-8")
    os.replace(replacement, tmp_path / COMMANDS_FILE)  # same size or not: a new file
    assert reader.poll(control) == 2
    assert [k for k, _, _ in _kinds(control)] == ["pause", "stop", "resume"]


def test_a_fifo_in_place_of_the_commands_file_never_hangs(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / COMMANDS_FILE)
    reader = CommandFile(tmp_path)
    assert reader.poll(Control()) == 0  # returns at once: not a regular file
    with pytest.raises(RemoteCommandError, match=r"not a regular file|Cannot write"):
        send_command(tmp_path, "stop")


def test_a_symlink_in_place_of_the_commands_file_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep\n", encoding="utf-8")
    (tmp_path / COMMANDS_FILE).symlink_to(target)
    with pytest.raises(RemoteCommandError):
        send_command(tmp_path, "stop")
    assert target.read_text(encoding="utf-8") == "keep\n"
