"""Fixtures for dashboard tests: a tiny corpus, a tiny config, scripted trainers."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes import ScriptedTrainer

from engine.config.schema import RunConfig

TEXT = (
    "ROMEO: But soft, what light through yonder window breaks?\n"
    "JULIET: O Romeo, Romeo, wherefore art thou Romeo?\n"
) * 40


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture
def tiny_config(corpus: Path) -> RunConfig:
    return RunConfig(
        data_file=str(corpus),
        seq_length=16,
        batch_size=4,
        embedding_dim=16,
        hidden_dim=32,
        epochs=50,
        max_steps=300,
        eval_interval=50,
        eval_max_windows=8,
        sample_length=20,
        device="cpu",
        num_threads=1,
    )


@pytest.fixture
def fake_factory() -> Callable:
    made: list[ScriptedTrainer] = []

    def factory(config: RunConfig, resume: str | None) -> ScriptedTrainer:
        trainer = ScriptedTrainer(config, resume)
        made.append(trainer)
        return trainer

    factory.made = made  # type: ignore[attr-defined]
    return factory


async def wait_until(pilot, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Let the app run until ``predicate()`` holds (fails the test after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {predicate.__doc__ or predicate}")
        await pilot.pause(0.02)
