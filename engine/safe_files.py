"""Reading a file the user named without hanging or exhausting memory.

A FIFO blocks its reader until a writer comes, ``/dev/zero`` never ends, a socket cannot be
read as a file, and a log that grows while read can grow forever. Every user-named input
(config, corpus, prompt file, checkpoint) is checked here first: a regular file, or a clear
refusal; and read with a size limit.
"""

from __future__ import annotations

import os
import stat

CHUNK_BYTES = 16 * 1024**2  # one read of a file that grows while read

KIND_NAMES = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def special_file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be read as an input file, in words; None when it is a regular file
    (or does not exist: the caller says that in its own words)."""
    try:
        info = os.stat(path)  # follows symlinks: a link to /dev/zero is /dev/zero
    except (FileNotFoundError, ValueError):  # ValueError: a NUL byte; no such file can exist
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(info.st_mode):
        return None
    kind = KIND_NAMES.get(stat.S_IFMT(info.st_mode), "not a regular file")
    return f"is {kind}, not a regular file; give the path of a file"


def read_bytes_limited(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file.

    Raises:
        ValueError: ``path`` is not a regular file, or holds more than ``limit`` bytes (also
            when it grows past the limit while being read).
        OSError: the file cannot be opened or read (missing, permissions).
    """
    if problem := special_file_problem(path):
        raise ValueError(f"{path} {problem}.")
    # O_NONBLOCK: if a FIFO is swapped in after the check, open() must not wait for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file; give the path of a file.")
        # Never read(limit + 1): that asks for the whole limit up front, and an 8 GiB
        # reservation fails under an address-space limit (`prlimit --as`) or strict
        # overcommit even for a 5 KB file. Read the file's own size, then, if it grew
        # meanwhile, chunks with a running count.
        first = fh.read(min(os.fstat(fd).st_size, limit) + 1)
        chunks, total = [first], len(first)
        while total <= limit and (chunk := fh.read(min(CHUNK_BYTES, limit + 1 - total))):
            chunks.append(chunk)
            total += len(chunk)
    if total > limit:
        raise ValueError(
            f"{path} is larger than {format_bytes(limit)}, the most this input may hold."
        )
    return first if len(chunks) == 1 else b"".join(chunks)


def format_bytes(count: float) -> str:
    """``1536`` -> ``1.5 KB``: sizes for messages."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if count < 1024 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"
