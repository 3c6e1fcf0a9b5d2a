"""The safe writer: whatever stands at a user's path that is not a regular file stays as it was.

Nothing here writes under /dev: /dev/null is only looked at, with ``os.open`` made to fail
for the whole test, so a writer that tried to open it would fail the test, not the machine.
"""

from __future__ import annotations

import os
import socket
import stat
import tempfile
from pathlib import Path

import pytest

from engine.errors import UserError
from engine.safe_write import WriteError, target_problem, write_file, write_text


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_writes_a_new_file_and_its_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.json"
    assert write_text(target, "hello\n") == target
    assert target.read_text(encoding="utf-8") == "hello\n"
    assert _listing(target.parent) == ["out.json"]  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_replacing_a_file_keeps_its_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    inode = target.stat().st_ino
    write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # renamed over, not rewritten in place
    assert _listing(tmp_path) == ["config.json"]


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("the old report", encoding="utf-8")

    def half_then_fail(fh) -> None:
        fh.write(b"half a rep")
        raise RuntimeError("renderer broke")

    with pytest.raises(RuntimeError, match="renderer broke"):
        write_file(target, half_then_fail)
    assert target.read_text(encoding="utf-8") == "the old report"
    assert _listing(tmp_path) == ["report.md"]


def test_a_disk_error_while_writing_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("kept", encoding="utf-8")

    def disk_full(fh) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(WriteError, match=r"Cannot write -o .*out\.csv: No space left on device"):
        write_file(target, disk_full, label="-o")
    assert target.read_text(encoding="utf-8") == "kept"
    assert _listing(tmp_path) == ["out.csv"]


def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    # Opening a FIFO to write blocks until a reader comes: a writer that opened it would hang
    # here (and the test's timeout would say so).
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(WriteError, match=r"named pipe \(FIFO\), not a regular file"):
        write_text(fifo, "{}")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert _listing(tmp_path) == ["pipe"]


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(WriteError, match="it is a socket"):
            write_text(path, "{}")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_a_symlink_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "precious.txt"
    outside.parent.mkdir()
    outside.write_text("keep me", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    link = work / "config.json"
    link.symlink_to(outside)
    with pytest.raises(WriteError, match="symbolic link"):
        write_text(link, "{}")
    assert outside.read_text(encoding="utf-8") == "keep me"
    assert link.is_symlink() and os.readlink(link) == str(outside)
    dangling = work / "new.json"
    dangling.symlink_to(tmp_path / "elsewhere" / "not-yet.txt")
    with pytest.raises(WriteError, match="symbolic link"):
        write_text(dangling, "{}")
    assert not (tmp_path / "elsewhere" / "not-yet.txt").exists()
    assert _listing(work) == ["config.json", "new.json"]


def test_dev_null_is_refused_before_anything_is_opened(monkeypatch) -> None:
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)

    def no_open(*args, **kwargs):
        raise AssertionError(f"the writer opened {args[0]!r}")

    monkeypatch.setattr(os, "open", no_open)
    with pytest.raises(WriteError, match="character device, not a regular file") as caught:
        write_file("/dev/null", lambda fh: pytest.fail("write called"), label="--save")
    monkeypatch.undo()
    assert str(caught.value).startswith("Cannot write --save /dev/null: it is a character device")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "plots"
    folder.mkdir()
    with pytest.raises(WriteError) as caught:
        write_text(folder, "x", label="--png")
    assert str(caught.value) == (
        f"Cannot write --png {folder}: it is a folder; give the path of a file "
        "(inside it or elsewhere)."
    )
    assert isinstance(caught.value, UserError) and isinstance(caught.value, OSError)
    assert _listing(folder) == [] and _listing(tmp_path) == ["plots"]
    with pytest.raises(WriteError, match="ends with a slash"):
        write_text(f"{tmp_path}/new/", "x")
    assert _listing(tmp_path) == ["plots"]
    with pytest.raises(WriteError, match="no file name given"):
        write_text("", "x")


def test_a_file_where_a_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("a file", encoding="utf-8")
    with pytest.raises(WriteError, match="Not a directory"):
        write_text(tmp_path / "notes" / "out.md", "x")


def test_a_read_only_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "locked.json"
    target.write_text("original", encoding="utf-8")
    target.chmod(0o444)
    with pytest.raises(WriteError, match="it is read-only"):
        write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "original"


def test_a_read_only_folder_is_a_clear_error() -> None:
    """Root may write in any folder, so as root the write runs in a forked child that has
    dropped to the nobody user (the parent process keeps its own identity). The folder is
    in /tmp itself: nobody cannot pass through pytest's private (0o700) tmp_path."""
    with tempfile.TemporaryDirectory(prefix="llmv0-ro-") as top:
        os.chmod(top, 0o755)
        folder = Path(top) / "ro"
        folder.mkdir(mode=0o555)
        folder.chmod(0o555)
        message = _write_as_nobody(folder / "out.md")
        folder.chmod(0o755)
        assert message == (
            f"Cannot write --out {folder / 'out.md'}: cannot create a file in {folder} "
            "(Permission denied)."
        )
        assert _listing(folder) == []


def _write_as_nobody(target: Path) -> str:
    """The writer's error text for ``target``, from a child process without root's rights."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the error text, then leave without pytest's clean-up
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setegid(65534)
                os.seteuid(65534)
            try:
                write_text(target, "x", label="--out")
                message = "written"
            except WriteError as exc:
                message = str(exc)
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        message = fh.read().decode()
    os.waitpid(pid, 0)
    return message


def test_target_problem_only_looks(tmp_path: Path) -> None:
    assert target_problem(tmp_path / "new.txt") is None
    (tmp_path / "old.txt").write_text("x", encoding="utf-8")
    assert target_problem(tmp_path / "old.txt") is None
    assert (
        target_problem(tmp_path)
        == "it is a folder; give the path of a file (inside it or elsewhere)"
    )
