"""Config files on disk: the shipped presets and the user's own, a config file's JSON read
safely (bounded, never from a device), a config written atomically. Validation is
engine.config.schema's.

Presets live in two folders. The shipped ones (``configs/``, or the copy inside an installed
package) are read-only: a pip-installed user cannot and should not write there. A user's own
presets (``llmv0 sweep-results --save-best-preset``, the dashboard's sweeps view) go to
``<user config dir>/presets``, platformdirs' ``user_config_dir("llmv0")`` (``~/.config/llmv0``
on Linux) or ``$LLMV0_CONFIG_DIR``. A name is looked up in the shipped folder first, so
``gpt-cpu`` always means what the docs describe; saving refuses a shipped name, so a user's
preset is never hidden behind one.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from engine.config.fields import ConfigError
from engine.errors import UserError
from engine.safe_files import read_bytes_limited
from engine.safe_write import write_text

if TYPE_CHECKING:  # any pydantic model; typed without the schema, which imports this module
    from pydantic import BaseModel

USER_CONFIG_ENV = "LLMV0_CONFIG_DIR"
"""Replaces the user's config folder (tests point it at a temporary one)."""
MAX_CONFIG_BYTES = 1024 * 1024
"""A config is a few KB; more is a mistake (or a device that never ends)."""
PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
"""No dot (``--config a.b`` reads as a file name, not a preset), no slash, no leading dash."""


class PresetError(UserError, ValueError):
    """A preset that cannot be saved under the name given (the message says why)."""


def config_dir() -> Path:
    """Folder of default_config.json and the shipped presets (repo's configs/ or the
    installed copy); read-only as far as llmv0 is concerned."""
    installed = Path(__file__).resolve().parents[1] / "_configs"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "configs"


def user_config_dir() -> Path:
    """The user's llmv0 config folder: ``$LLMV0_CONFIG_DIR``, else the platform's own
    (``~/.config/llmv0`` on Linux, honouring ``XDG_CONFIG_HOME``)."""
    env = os.environ.get(USER_CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("llmv0", appauthor=False))


def user_presets_dir() -> Path:
    """Where a user's own presets are saved and found."""
    return user_config_dir() / "presets"


def preset_folders() -> list[Path]:
    """The folders a preset name is looked up in, in order: shipped first, then the user's."""
    return [config_dir(), user_presets_dir()]


def list_presets() -> list[str]:
    """Names of the shipped and the user's presets (file stems, default_config excluded)."""
    names: set[str] = set()
    for folder in preset_folders():
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.json") if p.stem != "default_config")
    return sorted(names)


def read_config_dict(path: Path) -> dict[str, Any]:
    """Read a config file's JSON object without validating it (for overrides on top)."""
    if not path.exists():
        presets = ", ".join(list_presets()) or "none found"
        raise ConfigError(
            {"config": f"file not found: {path}. Give a JSON file or a preset ({presets})"},
            source=f"config file {path}",
        )
    try:
        # Bounded, and never from a FIFO or device: `--config /dev/zero` once grew to 22 GB.
        data = json.loads(read_bytes_limited(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except (OSError, RecursionError) as exc:
        raise ConfigError({"config": f"cannot be read ({exc})"}, f"config file {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            {
                "config": f"not valid JSON ({exc}); fix the file or regenerate it with "
                "`llmv0 config --save FILE`"
            },
            source=f"config file {path}",
        ) from None
    except ValueError as exc:  # not a regular file, or too large
        raise ConfigError({"config": str(exc)}, source=f"config file {path}") from None
    if not isinstance(data, dict):
        raise ConfigError({"config": "must be a JSON object"}, source=f"config file {path}")
    return data


def resolve_preset_path(name_or_path: str) -> Path:
    """A preset name ('gpt-cpu', shipped or the user's) or a path, as a Path to an existing or
    intended file."""
    candidate = Path(name_or_path)
    if not candidate.exists() and candidate.suffix == "":
        for folder in preset_folders():
            preset = folder / f"{name_or_path}.json"
            if preset.exists():
                return preset
    return candidate


def save_config(cfg: BaseModel, path: str | os.PathLike[str], *, label: str = "") -> None:
    """Write a config as pretty JSON through the safe writer (a device, FIFO, symlink or
    folder at ``path`` is refused, never replaced: :class:`engine.safe_write.WriteError`)."""
    write_text(path, json.dumps(cfg.model_dump(), indent=2) + "\n", label=label)


def save_user_preset(cfg: BaseModel, name: str) -> Path:
    """Save a config as the user's preset ``name`` (``--config name`` finds it); its path.

    Raises:
        PresetError: the name is not a plain name, or a shipped preset already has it.
        engine.safe_write.WriteError: the file cannot be written.
    """
    if not PRESET_NAME.match(name):
        raise PresetError(
            f"Preset name {name!r} must be a plain name like 'lr-best': letters, digits, '-' "
            "and '_', at most 64 characters."
        )
    if (config_dir() / f"{name}.json").exists() or name == "default_config":
        raise PresetError(
            f"{name!r} is a preset that ships with llmv0, and --config {name} would still find "
            "that one: choose another name."
        )
    path = user_presets_dir() / f"{name}.json"
    save_config(cfg, path, label="preset")
    return path
