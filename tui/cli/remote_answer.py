"""``llmv0 control RUN set NAME=VALUE``: check the change before sending it, then read the
trainer's answer (a ConfigChanged or a RunWarning) from the run's event log."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from engine import events as ev
from engine.run.folder import RunFolder


def checked_assignment(folder: Path, assignment: str) -> tuple[str, Any]:
    """``(name, value)`` of ``NAME=VALUE`` once the run's own config accepts it.

    Raises:
        ConfigError: not a live field, or a value the run's config refuses (learning_rate=abc).
    """
    from engine.config.schema import (
        LIVE_FIELDS,
        ConfigError,
        RunConfig,
        live_update,
        load_config,
        parse_value,
    )

    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or key not in LIVE_FIELDS:
        raise ConfigError(
            {key or "NAME": "set needs NAME=VALUE with a live field: "
             + ", ".join(sorted(LIVE_FIELDS))},
            source="set command",
        )  # fmt: skip
    saved = RunFolder(folder).config_path
    config = load_config(saved) if saved.is_file() else RunConfig()
    value = parse_value(key, text)
    live_update(config, key, value)  # raises ConfigError with the field's allowed range
    return key, value


def events_size(folder: Path) -> int:
    """Where the trainer's answer will start in the event log."""
    try:
        return RunFolder(folder).events_path.stat().st_size
    except OSError:
        return 0


def wait_for_answer(
    folder: Path, start: int, name: str, timeout_s: float, poll_s: float = 0.1
) -> tuple[str, str]:
    """``("applied" | "rejected" | "ended" | "silent", one line to print)``."""
    path = RunFolder(folder).events_path
    deadline = time.monotonic() + timeout_s
    offset, pending = start, b""
    while True:
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read(1 << 20)
        except OSError:
            data = b""
        offset += len(data)
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            answer = _answer(line, name)
            if answer is not None:
                return answer
        if time.monotonic() >= deadline:
            return (
                "silent",
                f"Sent set {name} to {folder.name}, but the trainer did not answer within "
                f"{timeout_s:g} s (it applies commands between optimizer steps).",
            )
        time.sleep(poll_s)


def _answer(line: bytes, name: str) -> tuple[str, str] | None:
    try:
        event = ev.event_from_dict(json.loads(line))
    except (ValueError, TypeError, AttributeError, RecursionError):
        return None
    if isinstance(event, ev.ConfigChanged) and event.name == name:
        return "applied", f"Applied: {name} {event.old} -> {event.new} from step {event.step}."
    if isinstance(event, ev.RunWarning) and name in event.message:
        return "rejected", f"Rejected by the trainer: {event.message}"
    if isinstance(event, ev.RunFinished | ev.RunFailed):
        return "ended", "The run ended before it applied the change."
    return None
