"""Config files on disk: the configs folder and its presets, a config file's JSON read safely
(bounded, never from a device), a config written atomically. Validation is
engine.config.schema's."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config.fields import ConfigError
from engine.safe_files import read_bytes_limited
from engine.safe_write import write_text

if TYPE_CHECKING:  # any pydantic model; typed without the schema, which imports this module
    from pydantic import BaseModel

CONFIG_DIR_ENV = "LLMV0_CONFIG_DIR"
MAX_CONFIG_BYTES = 1024 * 1024
"""A config is a few KB; more is a mistake (or a device that never ends)."""


def config_dir() -> Path:
    """Folder of default_config.json and the presets (repo's configs/ or the installed copy)."""
    env = os.environ.get(CONFIG_DIR_ENV)
    if env:
        return Path(env)
    installed = Path(__file__).resolve().parents[1] / "_configs"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "configs"


def list_presets() -> list[str]:
    """Names of the presets in the configs folder (file stems, default_config excluded)."""
    folder = config_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if p.stem != "default_config")


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
    """A preset name ('gpt-cpu') or a path, as a Path to an existing or intended file."""
    candidate = Path(name_or_path)
    if not candidate.exists() and candidate.suffix == "":
        preset = config_dir() / f"{name_or_path}.json"
        if preset.exists():
            return preset
    return candidate


def save_config(cfg: BaseModel, path: str | os.PathLike[str], *, label: str = "") -> None:
    """Write a config as pretty JSON through the safe writer (a device, FIFO, symlink or
    folder at ``path`` is refused, never replaced: :class:`engine.safe_write.WriteError`)."""
    write_text(path, json.dumps(cfg.model_dump(), indent=2) + "\n", label=label)
