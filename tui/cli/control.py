"""``llmv0 control RUN ACTION``: steer a run that another process trains.

``set NAME=VALUE`` is checked against the run's own config before it is sent, then the
trainer's answer (a ConfigChanged or a RunWarning) is read from the run's event log.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from engine import events as ev
from engine.run.folder import RunFolder
from tui.cli.completion import complete_action, complete_live_assignment, complete_run
from tui.cli.json_output import JsonOption, print_json
from tui.shared.cli_options import RunsDir, err, runs_dir_or_default, user_errors


def control(
    run: Annotated[str, typer.Argument(help="Run id or run folder.", autocompletion=complete_run)],
    action: Annotated[
        str,
        typer.Argument(
            help="pause, resume, stop, save, sample or set.", autocompletion=complete_action
        ),
    ],
    assignment: Annotated[
        str | None,
        typer.Argument(
            help="For set: NAME=VALUE, e.g. learning_rate=3e-4.",
            autocompletion=complete_live_assignment,
        ),
    ] = None,
    runs_dir: RunsDir = None,
    wait: Annotated[
        float,
        typer.Option("--wait", help="For set: seconds to wait for the trainer's answer.", min=0),
    ] = 10.0,
    json_: JsonOption = False,
) -> None:
    """Send a command to a run trained by another process (applied after its current step).

    ``set`` is checked against the run's config before it is sent, then waits for the trainer
    to say it applied or rejected the change (exit 0 applied, 2 rejected, 1 no answer).
    """
    from engine.run.commands_file import send_command
    from engine.run.folder import existing_run
    from engine.run.lock import lock_is_live

    name, value = "", None
    with user_errors():
        folder = existing_run(run, runs_dir_or_default(runs_dir)).folder.path
        require_run_folder(folder)
        if action == "set":
            name, value = checked_assignment(folder, assignment or "")
        start = events_size(folder)
        live = lock_is_live(folder)
        if live:  # a command for nobody is not written: a later resume must not see it
            send_command(folder, action, name, value)
    if not live:
        answer = (
            "no_trainer",
            (
                f"No live trainer holds {folder}; the command waits for nobody and is ignored by "
                "a future resume."
            ),
        )
    elif action != "set" or wait == 0:
        answer = "sent", f"Sent {action} to {folder.name}."
    else:
        answer = wait_for_answer(folder, start, name, wait)
    verdict, text = answer
    if json_:
        print_json(
            {
                "run": folder.name,
                "path": folder,
                "action": action,
                "name": name or None,
                "value": value,
                "answer": verdict,
                "message": text,
            }
        )
    elif verdict == "no_trainer":
        err.print(f"[yellow]Note:[/] {escape(text)}")
    else:
        err.print(text, markup=False)
    if verdict in ("rejected", "ended", "silent"):
        raise typer.Exit(2 if verdict == "rejected" else 1)


def require_run_folder(folder: Path) -> None:
    """Refuse a folder that is not a run's: `control /any/dir pause` once wrote a
    commands.jsonl into any folder it was given and exited 0.

    Raises:
        RunNotFoundError: no event log and no config in ``folder``.
    """
    from engine.run.ids import RunNotFoundError

    run = RunFolder(folder)
    if not (run.events_path.is_file() or run.config_path.is_file()):
        raise RunNotFoundError(
            f"{folder} is not a run folder (it has no {run.events_path.name} and no "
            f"{run.config_path.name}), so no trainer reads commands there. `llmv0 runs` "
            "lists the runs; give a run id or a run's folder."
        )


def checked_assignment(folder: Path, assignment: str) -> tuple[str, Any]:
    """``(name, value)`` of ``NAME=VALUE`` once the run's own config accepts it.

    Raises:
        ConfigError: not a live field, or a value the run's config refuses (learning_rate=abc).
    """
    from engine.config.fields import ConfigError
    from engine.config.schema import LIVE_FIELDS, RunConfig, live_update, load_config, parse_value

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
