"""Writing a file at a path the user named without destroying what is there.

``config --save /dev/full`` once replaced the system's device node with a JSON file, and
``report --out DIR`` gave a traceback. Every file the project writes at a user's path (config
saves, reports, exports, plots, presets, HTML pages) goes through :func:`write_file`:

- a path that exists and is not a regular file (folder, symlink, FIFO, socket, device) is
  refused, looked at with ``lstat`` only: the target is never opened, and a symlink is never
  followed (a link to a file elsewhere would let a save rewrite that file);
- a read-only file is refused (its mode has no write bit, or this user may not write it);
- the content goes to a temporary file in the same folder, is flushed to disk, and is renamed
  over the target in one step (git and SQLite do the same): a crash, a full disk or an error
  half-way leaves the old file whole, never a truncated one;
- a replaced file keeps its permission bits (and its owner, where the writer may set it).

Every refusal or failure is a :class:`WriteError`: one paragraph, a
:class:`~engine.errors.UserError` (the CLI exits 2, the dashboard notifies) and an ``OSError``
(so callers that caught the old ``OSError`` still do).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from engine.errors import UserError
from engine.safe_files import KIND_NAMES

KINDS = {**KIND_NAMES, stat.S_IFLNK: "a symbolic link"}
TEMP_NAME_MAX = 200  # the temporary name adds ~20 characters; most file systems allow 255


class WriteError(UserError, OSError):
    """A file the user named was not written; the message says why and what to do."""


def target_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` must not be written, in words; None when it is a regular, writable file or
    does not exist yet. Only ``lstat``: nothing at ``path`` is opened or followed."""
    text = os.fspath(path)
    if not text:
        return "no file name given"
    if text.endswith(os.sep):
        return "it ends with a slash, so it names a folder; give the path of a file"
    try:
        info = os.lstat(text)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ENOTDIR (a parent is a file), ENAMETOOLONG, EACCES, ...
        return exc.strerror or str(exc)
    except ValueError:
        return "the path holds a NUL byte"
    if stat.S_ISDIR(info.st_mode):
        return "it is a folder; give the path of a file (inside it or elsewhere)"
    if not stat.S_ISREG(info.st_mode):
        kind = KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        return f"it is {kind}, not a regular file, and is left alone; give another path"
    # Root may write anything, so the mode bits say what the owner meant: read-only.
    if not info.st_mode & 0o222 or not os.access(text, os.W_OK, follow_symlinks=False):
        return "it is read-only; make it writable or give another path"
    return None


def check_target(path: str | os.PathLike[str], *, label: str = "") -> None:
    """Refuse ``path`` now (as :func:`write_file` would), before work that is wasted, or that
    writes beside it, if the path is refused.

    Raises:
        WriteError: :func:`target_problem` found one.
    """
    if problem := target_problem(path):
        raise _error(path, label, problem)


def _error(path: str | os.PathLike[str], label: str, reason: str) -> WriteError:
    what = f"{label} {os.fspath(path)}" if label else os.fspath(path)
    return WriteError(f"Cannot write {what}: {reason}.")


def write_file(
    path: str | os.PathLike[str], write: Callable[[BinaryIO], None], *, label: str = ""
) -> Path:
    """Write ``path`` safely: ``write`` fills a temporary file beside it, which then replaces it.

    Args:
        path: the file to write; its missing parent folders are created.
        write: called once with the temporary file, open for binary writing.
        label: the option that named the path (``--out``), for messages.

    Returns:
        ``path`` as a Path.

    Raises:
        WriteError: ``path`` is refused (see :func:`target_problem`) or cannot be written
            (permissions, a full disk); nothing at ``path`` changed.
    """
    check_target(path, label=label)
    target = Path(path)

    def refuse(reason: str) -> WriteError:
        return _error(target, label, reason)

    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise refuse(f"cannot create its folder {folder} ({exc.strerror or exc})") from None
    try:
        old = os.lstat(target)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise refuse(exc.strerror or str(exc)) from None
    temp = folder / f".{target.name[:TEMP_NAME_MAX]}.{secrets.token_hex(4)}.tmp"
    try:
        # O_EXCL|O_NOFOLLOW: a name planted here meanwhile is never opened. A new file gets
        # 0o666 less the umask (the kernel applies it), as open() would have given it.
        fd = os.open(
            temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666
        )
    except OSError as exc:
        raise refuse(f"cannot create a file in {folder} ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            if old is not None:
                _keep_mode_and_owner(fd, old)
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        _move_into_place(temp, target, fresh=old is None, refuse=refuse)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, WriteError):
            raise
        raise refuse(exc.strerror or str(exc)) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(folder)
    return target


def write_text(
    path: str | os.PathLike[str], text: str, *, label: str = "", encoding: str = "utf-8"
) -> Path:
    """:func:`write_file` for text."""
    data = text.encode(encoding)
    return write_file(path, lambda fh: fh.write(data), label=label)


def _keep_mode_and_owner(fd: int, old: os.stat_result) -> None:
    os.fchmod(fd, stat.S_IMODE(old.st_mode))
    if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
        # Only root (or the owner, for the group) may; otherwise the writer owns it.
        with contextlib.suppress(OSError):
            os.fchown(fd, old.st_uid, old.st_gid)


def _move_into_place(
    temp: Path, target: Path, *, fresh: bool, refuse: Callable[[str], WriteError]
) -> None:
    """Rename ``temp`` over ``target``, looking again first: the write took time, and
    something else may now stand there."""
    if fresh:
        # A link fails if anything appeared at the name meanwhile: never clobbers it.
        try:
            os.link(temp, target, follow_symlinks=False)
        except FileExistsError:
            pass  # something appeared: checked below like any existing file
        except OSError:
            pass  # no hard links here (some network or FAT file systems): rename below
        else:
            temp.unlink()
            return
    if problem := target_problem(target):
        raise refuse(problem)
    os.replace(temp, target)


def _sync_folder(folder: Path) -> None:
    """Flush the rename itself to disk (the folder's entry), where the platform allows."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
