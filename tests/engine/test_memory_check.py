"""A run that cannot fit in memory is refused before anything is allocated, with how much it
needs and how much there is; ``memory_check=false`` lets those who know better try."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from engine.config.schema import RunConfig
from engine.events import RunFailed
from engine.train import memory_check
from engine.train.memory_check import MemoryEstimateError, check_fits, estimate
from engine.train.trainer import Trainer

HUGE_GPT = {"model": "gpt", "n_embd": 8192, "n_layer": 48, "n_head": 64}


def test_the_parameter_count_is_exact_and_costs_no_memory() -> None:
    from engine.models import build_model, count_parameters

    cfg = RunConfig(embedding_dim=16, hidden_dim=32)
    assert estimate(cfg, 65).parameters == count_parameters(build_model(cfg, 65))
    started = time.perf_counter()
    huge = estimate(RunConfig(**HUGE_GPT), 65)
    assert huge.parameters > 38e9  # about 154 GB of float32 weights, never allocated
    assert time.perf_counter() - started < 20


@pytest.mark.parametrize(
    "fields", [HUGE_GPT, {"batch_size": 4096, "seq_length": 4096}], ids=["model", "batch"]
)
def test_too_big_is_refused_with_need_and_have(
    fields: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_check, "available_bytes", lambda device: 8 * 10**9)
    with pytest.raises(MemoryEstimateError) as info:
        check_fits(RunConfig(**fields), 65, torch.device("cpu"))
    message = str(info.value)
    assert "needs about" in message and "8.0 GB of free RAM" in message
    assert "memory_check=false" in message
    check_fits(RunConfig(**fields, memory_check=False), 65, torch.device("cpu"))


def test_a_trainer_fails_cleanly_before_allocating(
    tmp_path: Path, make_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_check, "available_bytes", lambda device: 1000)
    result = Trainer(make_config(), runs_dir=tmp_path / "runs", run_id="big").run()
    assert isinstance(result, RunFailed)
    assert "needs about" in result.error and "Traceback" not in result.error
