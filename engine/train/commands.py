"""CommandHandler: applies the commands queued for a run, between two optimizer steps.

Commands come from the caller's :class:`~engine.control.Control` and, for a run steered by
another process, from the run folder's commands file. The main data-parallel rank applies
them; then the stop flag and every numeric live field of the schema are broadcast, so all
ranks train with the same learning rate and evaluate at the same steps. Because this runs
at step boundaries, a checkpoint is always consistent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from engine import events as ev
from engine.config.fields import ConfigError
from engine.config.schema import LIVE_FIELDS, RunConfig, live_update
from engine.control import Command, Control
from engine.run.commands_file import CommandFile
from engine.runtime import distributed as dist

# Broadcast as floats to the other ranks: the schema's live fields that are numbers.
BROADCAST_FIELDS = tuple(
    sorted(name for name in LIVE_FIELDS if RunConfig.model_fields[name].annotation in (int, float))
)


class StopRequested(Exception):
    """A stop command arrived: the run saves latest.pt and finishes as 'stopped'."""


class CommandHandler:
    """Pause, resume, stop, save, sample and live changes for one run."""

    def __init__(
        self,
        control: Control,
        commands_file: CommandFile | None,
        dist_info: dist.DistInfo,
        device: torch.device,
        *,
        publish: Callable[[ev.Event], None],
        save: Callable[[RunConfig], None],
        sample: Callable[[RunConfig], None],
        pause: Callable[[], None] = lambda: None,
        resume: Callable[[], None] = lambda: None,
    ) -> None:
        self.control = control
        self.commands_file = commands_file
        self.dist = dist_info
        self.device = device
        self.publish = publish
        self.save = save
        self.sample = sample
        self.pause_clock = pause  # a pause uses no time budget and no schedule
        self.resume_clock = resume
        # Commands read during an evaluation that wait for the next step boundary.
        self._held: list[Command] = []

    def apply(self, config: RunConfig, step: int) -> RunConfig:
        """Apply queued commands; returns the config with live changes.

        Raises:
            StopRequested: a stop command arrived (on any rank's behalf).
        """
        stop = False
        if self.dist.is_main:
            try:
                config = self._drain(config, step)
            except StopRequested:
                stop = True
        if self.dist.enabled:
            stop, config = self._share(stop, config)
        if stop:
            raise StopRequested
        return config

    def _share(self, stop: bool, config: RunConfig) -> tuple[bool, RunConfig]:
        values = [float(stop)] + [float(getattr(config, f)) for f in BROADCAST_FIELDS]
        flag, *shared = dist.broadcast(values, self.dist, self.device)
        update: dict[str, Any] = {}
        for name, value in zip(BROADCAST_FIELDS, shared, strict=True):
            typed = int(value) if RunConfig.model_fields[name].annotation is int else value
            if typed != getattr(config, name):
                update[name] = typed
        return bool(flag), config.model_copy(update=update) if update else config

    def between_batches(self, step: int) -> None:
        """During an evaluation, between two of its batches: a pause lands now (the
        evaluation waits, paused, for resume) and a stop ends the run now, instead of after
        an evaluation that can take seconds. Other commands wait for the step boundary.

        Alone only: a data-parallel run's ranks must pause at the same boundary, so its
        commands wait for the evaluation's end (``apply``).

        Raises:
            StopRequested: a stop command arrived.
        """
        if self.dist.enabled:
            return
        paused = False
        while True:
            if self.commands_file is not None:
                self.commands_file.poll(self.control)
            command = self.control.get(timeout=0.1) if paused else self.control.get()
            if command is None:
                if paused:
                    continue
                return
            if command.kind == "stop":
                raise StopRequested
            toggled = self._pause_or_resume(command, paused, step)
            if toggled is not None:
                paused = toggled
            elif command.kind not in {"pause", "resume"}:
                self._held.append(command)

    def _drain(self, config: RunConfig, step: int) -> RunConfig:
        paused = False
        while True:
            if self.commands_file is not None:
                self.commands_file.poll(self.control)
            if self._held:  # read during the last evaluation, in the order they came
                command: Command | None = self._held.pop(0)
            else:
                command = self.control.get(timeout=0.1) if paused else self.control.get()
            if command is None:
                if paused:
                    continue
                return config
            toggled = self._pause_or_resume(command, paused, step)
            if toggled is not None:
                paused = toggled
            else:
                config = self._apply(command, config, step)

    def _pause_or_resume(self, command: Command, paused: bool, step: int) -> bool | None:
        """The new paused state when ``command`` pauses a running loop or resumes a paused
        one (its clock and event too), else None."""
        if command.kind == "pause" and not paused:
            self.pause_clock()
            self.publish(ev.RunPaused(step=step))
            return True
        if command.kind == "resume" and paused:
            self.resume_clock()
            self.publish(ev.RunResumed(step=step))
            return False
        return None

    def _apply(self, command: Command, config: RunConfig, step: int) -> RunConfig:
        if command.kind == "stop":
            raise StopRequested
        if command.kind == "save":
            self.save(config)
        elif command.kind == "sample":
            self.sample(config)
        elif command.kind == "set":
            return self._set_field(config, command.name, command.value, step)
        return config

    def _set_field(self, config: RunConfig, name: str, value: Any, step: int) -> RunConfig:
        try:
            changed = live_update(config, name, value)
        except ConfigError as exc:
            self.publish(ev.RunWarning(message=str(exc), step=step))
            return config
        self.publish(
            ev.ConfigChanged(
                step=step, name=name, old=getattr(config, name), new=getattr(changed, name)
            )
        )
        return changed
