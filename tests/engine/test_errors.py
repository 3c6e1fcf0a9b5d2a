"""One base for user errors: every user-facing error derives from UserError, caught once."""

from __future__ import annotations

import pytest
import typer

from engine.checkpoint import CheckpointError
from engine.config import ConfigError
from engine.data import CorpusError
from engine.device import DeviceError
from engine.errors import UserError
from engine.lock import RunLockedError
from engine.remote import RemoteCommandError
from engine.run_folder import RunNotFoundError
from engine.sampling import SampleSettings, SampleSettingsError
from engine.tokenizer import UnknownCharactersError
from tui.cli_common import user_errors


@pytest.mark.parametrize(
    "error",
    [CheckpointError, CorpusError, DeviceError, RunLockedError, RemoteCommandError,
     RunNotFoundError, SampleSettingsError, UnknownCharactersError],
)  # fmt: skip
def test_every_user_facing_error_is_a_user_error(error: type[Exception]) -> None:
    assert issubclass(error, UserError)
    assert issubclass(ConfigError, UserError)


def test_bad_sample_settings_raise_a_user_error() -> None:
    with pytest.raises(UserError, match="beams"):
        SampleSettings(beams=0)


def test_cli_turns_user_errors_into_exit_2_but_lets_bugs_through() -> None:
    with pytest.raises(typer.Exit) as exit_info, user_errors():
        raise CorpusError("no corpus [bold]here[/]")
    assert exit_info.value.exit_code == 2
    # A plain ValueError is a program bug: it keeps its traceback, never a tidy exit 2.
    with pytest.raises(ValueError), user_errors():
        raise ValueError("a bug")


def test_issue_12_errors_are_user_errors_and_keep_their_old_bases() -> None:
    from engine.config import ConfigError
    from engine.memory_check import MemoryEstimateError
    from engine.run_ids import RunIdError
    from tui.serve_guard import ServeTokenError

    for error in (MemoryEstimateError, RunIdError, ServeTokenError):
        assert issubclass(error, UserError) and issubclass(error, ValueError)
    assert issubclass(RunIdError, ConfigError) and issubclass(RunIdError, RunNotFoundError)
    assert issubclass(MemoryEstimateError, ConfigError)
