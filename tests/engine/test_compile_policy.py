"""Compile only when the rest of the run repays it; measured compile costs are remembered."""

from __future__ import annotations

import pytest

from engine.config.schema import RunConfig
from engine.events import RunNotice
from engine.runtime import compile_policy as cp
from engine.train.budget import RunClock
from engine.train.timing import RunTiming
from engine.train.trainer import Trainer


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(cp.CACHE_ENV, str(tmp_path / "inductor"))


def test_short_runs_stay_eager_and_long_runs_compile() -> None:
    short, note = cp.worth_compiling(300, 0.015, 25.0, "bfloat16")
    assert not short and "not compiling" in note and "~25 s of compiling" in note
    long, note = cp.worth_compiling(3000, 0.2, 25.0, "bfloat16")  # saves ~170 s
    assert long and note.startswith("compile: compiling")


def test_measured_cost_is_remembered_per_shape() -> None:
    cfg = RunConfig(model="gpt")
    sig = cp.signature(cfg, "bfloat16", "cpu")
    assert cp.recorded_cost(sig) is None
    cp.record_cost(sig, 7.25)
    assert cp.recorded_cost(sig) == 7.25
    other = cp.signature(cfg.model_copy(update={"batch_size": 64}), "bfloat16", "cpu")
    assert cp.recorded_cost(other) is None


def test_timing_defers_then_compiles_a_long_run() -> None:
    decisions: list[bool] = []
    timing = RunTiming(RunConfig(), RunClock(lambda: 0.0), None, compiled=True, eval_windows=0)
    timing.defer_compile(decisions.append, "sig", "bfloat16")
    assert not timing.compile_pending  # eager first
    for step in range(1, cp.DECIDE_AFTER):
        assert timing.step_done(0.2, 100, step, 3000) == []
    [(kind, note)] = timing.step_done(0.2, 100, cp.DECIDE_AFTER, 3000)
    assert "3,000 steps left" not in note  # it counts from the step it decides at
    assert kind == "compile" and decisions == [True] and timing.compile_pending
    [(kind, _)] = timing.step_done(20.0, 100, 5, 3000)  # the compiling step
    assert kind == "compiled" and timing.clock.overhead_s == 20.0
    assert cp.recorded_cost("sig") == 20.0  # the next decision uses what was measured


def test_trainer_skips_compiling_a_short_run(make_config, runs_dir, new_recorder) -> None:
    seen = new_recorder()
    result = Trainer(make_config(compile=True, max_steps=12), runs_dir=runs_dir).run(seen)
    assert result.reason == "completed"
    notes = {e.kind: e.message for e in seen.of(RunNotice)}
    if "compile" not in notes:
        pytest.skip("torch.compile is unavailable here")
    assert "not compiling" in notes["compile"] and "compiled" not in notes


def test_the_cache_survives_reboots_even_after_dynamo_set_its_tmp_default(
    tmp_path, monkeypatch
) -> None:
    import torch._dynamo  # noqa: F401  (importing it writes inductor's /tmp default in)
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    monkeypatch.setenv(cp.CACHE_ENV, default_cache_dir())  # what the import leaves behind
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    assert cp.use_persistent_cache() == tmp_path / "home-cache" / "llmv0" / "inductor"
    monkeypatch.setenv(cp.CACHE_ENV, str(tmp_path / "mine"))  # a user's own choice stays
    assert cp.use_persistent_cache() == tmp_path / "mine"
