"""TensorBoard logging: events written by the trainer, read back by TensorBoard's own reader."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.config.schema import RunConfig
from engine.events import Event, RunFinished, RunWarning
from engine.train.trainer import Trainer

MakeConfig = Callable[..., RunConfig]


def test_tensorboard_events_read_back_with_tensorboards_reader(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = tmp_path / "runs"
    cfg = make_config(max_steps=20, eval_interval=10, log_tensorboard=True)
    result = Trainer(cfg, runs_dir=runs, run_id="tb").run()
    assert isinstance(result, RunFinished)
    acc = EventAccumulator(str(runs / "tb" / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    for tag in (
        "train/loss",
        "train/learning_rate",
        "train/tokens_per_s",
        "val/loss",
        "val/perplexity",
        "val/bits_per_char",
    ):
        assert tag in tags["scalars"], tag
    loss = acc.Scalars("train/loss")
    assert [s.step for s in loss] == list(range(1, 21))
    assert [s.step for s in acc.Scalars("val/loss")] == [10, 20]
    assert "sample/text_summary" in tags["tensors"]


def test_missing_tensorboard_warns_and_training_goes_on(
    tmp_path: Path, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_tensorboard(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith(("torch.utils.tensorboard", "tensorboard")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    seen: list[Event] = []
    cfg = make_config(max_steps=5, log_tensorboard=True)
    result = Trainer(cfg, runs_dir=tmp_path / "runs").run(seen.append)
    assert isinstance(result, RunFinished)
    warnings = [e.message for e in seen if isinstance(e, RunWarning)]
    assert warnings and "pip install 'llmv0[tensorboard]'" in warnings[0]
