"""Shared fixtures: a tiny corpus written into tmp_path and a tiny RunConfig factory.

Every engine and CLI test trains on CPU for tens of steps on a few KB of text, so the whole
suite stays fast on a 2-core machine and never touches the repository's data/ or checkpoints/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.config.schema import RunConfig
from engine.events import Event

TINY_TEXT = (
    "ROMEO: But soft, what light through yonder window breaks?\n"
    "JULIET: O Romeo, Romeo, wherefore art thou Romeo?\n"
    "ROMEO: It is the east, and Juliet is the sun.\n"
) * 30
"""About 4.6 KB of repeating text: learnable in tens of steps."""

TINY_FIELDS: dict[str, Any] = {
    "seq_length": 16,
    "batch_size": 8,
    "embedding_dim": 16,
    "hidden_dim": 32,
    "max_steps": 20,
    "learning_rate": 0.01,
    "eval_interval": 10,
    "sample_length": 20,
    "device": "cpu",
    "num_threads": 1,
    "seed": 7,
}
"""A model of a few thousand parameters; one step takes a millisecond or two."""


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes into the repository or the home folder: corpus cache, runs and the
    user's config folder live under tmp_path."""
    monkeypatch.setenv("LLMV0_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLMV0_RUNS_DIR", str(tmp_path / "runs"))
    # The user's config folder (saved presets): never the real ~/.config/llmv0.
    monkeypatch.setenv("LLMV0_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small UTF-8 corpus file."""
    path = tmp_path / "corpus.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def make_config(corpus: Path) -> Callable[..., RunConfig]:
    """``make_config(**overrides)``: a tiny CPU config training on the ``corpus`` fixture."""

    def factory(**overrides: Any) -> RunConfig:
        return RunConfig(**{"data_file": str(corpus), **TINY_FIELDS, **overrides})

    return factory


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """Parent folder for run folders."""
    return tmp_path / "runs"


class Recorder:
    """A sink that keeps every event, with helpers to pick them by type."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, cls: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def new_recorder() -> Callable[[], Recorder]:
    """A factory of recorders, for tests that compare several runs."""
    return Recorder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests (real processes, terminals, ports, a database) run one after another on
    one xdist worker: side by side they would compete for the two CPUs their timeouts were
    set for. The in-process tests spread over every worker beside them."""
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.xdist_group("slow"))
