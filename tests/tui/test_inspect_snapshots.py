"""SVG snapshots of the Inspect screen at 80x24, one per view, on seeded tiny models.

Update after an intended change with ``pytest tests/tui/test_inspect_snapshots.py
--snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_fixtures import inspect_app

SIZE = (80, 24)


def press_then_settle(*keys: str):
    async def run_before(pilot) -> None:
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            workers = [w for w in pilot.app.workers if w.group == "inspect"]
            if workers:
                await pilot.app.workers.wait_for_complete(workers)
            await pilot.pause()

    return run_before


@pytest.mark.parametrize(
    ("model", "keys"),
    [
        ("gpt", ("i", "right", "right")),
        ("gpt", ("i", "2", "down", "left")),
        ("lstm", ("i", "3")),
        ("lstm", ("i", "4")),
        ("gpt", ("i", "5")),
    ],
    ids=["surprise", "attention", "cells", "embeddings", "timeline"],
)
def test_inspect_view(snap_compare, tmp_path: Path, fake_factory, model, keys) -> None:
    app = inspect_app(tmp_path, model, fake_factory)
    assert snap_compare(app, terminal_size=SIZE, run_before=press_then_settle(*keys))
