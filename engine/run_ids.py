"""Run ids are folder names under the runs folder, never paths: ``--run-id ../../x`` or an
absolute path must not make a run write (or a lookup read) outside the runs folder."""

from __future__ import annotations

from engine.config import ConfigError

MAX_RUN_ID_CHARS = 120


class RunIdError(ConfigError):
    """A run id that is not a plain folder name."""

    def __init__(self, run_id: str, why: str) -> None:
        super().__init__({"run id": f"{run_id[:200]!r} {why}"}, source="run id")


def check_run_id(run_id: str) -> str:
    """``run_id`` itself when it is one plain folder name; RunIdError otherwise."""
    if not run_id or run_id in {".", ".."}:
        raise RunIdError(run_id, "is not a folder name")
    if "/" in run_id or "\\" in run_id or "\x00" in run_id:
        raise RunIdError(
            run_id, "contains a path separator: a run id names a folder inside the runs folder"
        )
    if len(run_id) > MAX_RUN_ID_CHARS or not run_id.isprintable() or run_id.startswith("-"):
        raise RunIdError(
            run_id, f"must be printable, at most {MAX_RUN_ID_CHARS} characters, not start with -"
        )
    return run_id
