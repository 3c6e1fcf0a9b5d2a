"""One way to assemble a config: a base, then a file or preset on top, then ``--set`` pairs.

Used by every front door that builds a config from parts (``llmv0 train`` and ``config``, a
resumed run's saved config with changes, the bench scripts' presets), so they agree on
precedence and report every bad field at once.
"""

from __future__ import annotations

from typing import Any

from engine.config.files import read_config_dict, resolve_preset_path
from engine.config.schema import RunConfig, apply_overrides, validate_config


def merge(
    base: RunConfig | dict[str, Any] | None = None,
    file: str | None = None,
    overrides: list[str] | None = None,
    source: str = "config",
) -> RunConfig:
    """``base`` (default: the defaults), updated by ``file`` (a JSON file or preset name),
    then by ``key=value`` ``overrides``, validated once.

    Raises:
        ConfigError: the file is missing or not JSON, an override is malformed, or any
            field is invalid (all of them named).
    """
    if base is None:
        base = RunConfig()
    data = base.model_dump() if isinstance(base, RunConfig) else dict(base)
    if file:
        path = resolve_preset_path(file)
        data.update(read_config_dict(path))
        source = f"{source} {path}"
    if overrides:
        data = apply_overrides(data, overrides)
        source += " with --set overrides"
    return validate_config(data, source=source)
