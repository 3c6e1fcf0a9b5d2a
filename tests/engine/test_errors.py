"""One base for user errors: every user-facing error derives from UserError, caught once."""

from __future__ import annotations

import pytest
import typer

from engine.config.fields import ConfigError
from engine.errors import UserError
from engine.generate.decoding import SampleSettings, SampleSettingsError
from engine.run.checkpoint import CheckpointError
from engine.run.commands_file import RemoteCommandError
from engine.run.folder import RunNotFoundError
from engine.run.lock import RunLockedError
from engine.runtime.device import DeviceError
from engine.text.corpus import CorpusError
from engine.text.tokenizer import UnknownCharactersError
from tui.shared.cli_options import user_errors


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
    from engine.config.fields import ConfigError
    from engine.run.ids import RunIdError
    from engine.train.memory_check import MemoryEstimateError
    from tui.dashboard.serve_guard import ServeTokenError

    for error in (MemoryEstimateError, RunIdError, ServeTokenError):
        assert issubclass(error, UserError) and issubclass(error, ValueError)
    assert issubclass(RunIdError, ConfigError) and issubclass(RunIdError, RunNotFoundError)
    assert issubclass(MemoryEstimateError, ConfigError)
