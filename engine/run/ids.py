"""Run ids are folder names under the runs folder, never paths: ``--run-id ../../x`` or an
absolute path must not make a run write (or a lookup read) outside the runs folder.

engine.run.folder resolves every run reference through :func:`check_run_id`; the errors
live here, below the run folder, so the config layer's callers can raise them too.
"""

from __future__ import annotations

from engine.config.fields import ConfigError
from engine.errors import UserError

MAX_RUN_ID_CHARS = 120


class RunNotFoundError(UserError, ValueError):
    """No run under that reference, or a reference that would leave the runs folder."""


class RunIdError(RunNotFoundError, ConfigError):
    """A run id that is not a plain folder name: no such run can exist, and as a setting
    (``--run-id``) it is an invalid value."""

    def __init__(self, run_id: str, why: str) -> None:
        ConfigError.__init__(
            self,
            {"run id": f"{run_id[:200]!r} is not a run id: {why}"},
            source="run id",
        )


def check_run_id(run_id: str) -> str:
    """``run_id`` itself when it is one plain folder name; RunIdError otherwise."""
    if not run_id.strip() or run_id in {".", ".."}:
        raise RunIdError(run_id, "it is not a folder name")
    if "/" in run_id or "\\" in run_id or "\x00" in run_id:
        raise RunIdError(
            run_id, "it contains a path separator; a run id names a folder inside the runs folder"
        )
    if len(run_id) > MAX_RUN_ID_CHARS or not run_id.isprintable() or run_id.startswith("-"):
        raise RunIdError(
            run_id, f"it must be printable, at most {MAX_RUN_ID_CHARS} characters, not start with -"
        )
    return run_id
