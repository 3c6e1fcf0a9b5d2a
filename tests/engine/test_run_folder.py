"""The run folder: resolving run references, its checkpoints, its configs and history."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.fields import ConfigError
from engine.config.files import save_config
from engine.config.merge import merge
from engine.config.schema import FIXED_ON_RESUME, LIVE_FIELDS, RunConfig
from engine.events import ConfigChanged, RunStarted
from engine.run.checkpoint import CheckpointError
from engine.run.folder import (
    RunFolder,
    RunNotFoundError,
    existing_run,
    load_for_inference,
    require_history,
    resolve_run,
)
from engine.run.log import RunLog
from engine.train.trainer import Trainer


@pytest.fixture
def trained(make_config, runs_dir) -> Path:
    """A run folder with latest.pt and best.pt after a short run."""
    Trainer(make_config(max_steps=10, eval_interval=5), runs_dir=runs_dir, run_id="r").run()
    return runs_dir / "r"


def test_missing_run_and_run_without_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError, match="llmv0 runs"):
        load_for_inference("nope", tmp_path)
    (tmp_path / "empty-run").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint yet"):
        load_for_inference("empty-run", tmp_path)
    with pytest.raises(CheckpointError, match="Cannot resume"):
        existing_run("empty-run", tmp_path).checkpoint_for_resume()


def test_inference_prefers_best_and_resume_takes_latest(trained: Path) -> None:
    elsewhere = Path("elsewhere")
    assert resolve_run("r", trained.parent).checkpoint_for_inference() == trained / "best.pt"
    assert resolve_run(trained, elsewhere).checkpoint_for_inference() == trained / "best.pt"
    assert resolve_run(trained, elsewhere).checkpoint_for_resume() == trained / "latest.pt"
    latest = trained / "latest.pt"
    ref = resolve_run(latest, elsewhere)
    assert ref.checkpoint_for_inference() == latest and ref.folder.path == trained


@pytest.mark.parametrize("bad", ["../no-such-run-x", "a/../../b", "/no/such/run", "", " "])
def test_ids_that_leave_the_runs_folder_are_refused(tmp_path: Path, bad: str) -> None:
    runs = tmp_path / "runs"
    (runs / "a").mkdir(parents=True)
    with pytest.raises(RunNotFoundError, match="not a run id"):
        resolve_run(bad, runs)
    assert resolve_run("a", runs).folder.path == runs / "a"  # a plain id is fine


def test_effective_config_applies_live_changes_in_order(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    save_config(RunConfig(learning_rate=0.01), folder.config_path)
    log = RunLog(folder.events_path)
    log(
        RunStarted(
            run_id="run", config={}, n_params=1, device="cpu", dtype="float32", total_steps=9,
            steps_per_epoch=9, vocab_size=3, train_tokens=9, val_tokens=9,
        )
    )  # fmt: skip
    log(ConfigChanged(step=5, name="learning_rate", old=0.01, new=0.003))
    log(ConfigChanged(step=9, name="learning_rate", old=0.003, new=0.002))
    log.close()
    assert folder.saved_config().learning_rate == 0.01
    assert folder.effective_config().learning_rate == 0.002
    assert folder.is_used()
    _, history = require_history(folder.path, tmp_path)
    assert [e.step for e in history if isinstance(e, ConfigChanged)] == [5, 9]


def test_merge_takes_base_then_file_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"hidden_dim": 64, "batch_size": 4}', encoding="utf-8")
    cfg = merge(RunConfig(batch_size=2, seed=3), str(path), ["batch_size=5"])
    assert (cfg.hidden_dim, cfg.batch_size, cfg.seed) == (64, 5, 3)
    with pytest.raises(ConfigError) as err:
        merge(None, None, ["batch_size=0", "nope=1"])
    assert "batch_size" in str(err.value) and "nope" in str(err.value)


def test_fixed_on_resume_is_a_schema_flag() -> None:
    assert {"model", "seq_length", "seed", "tokenizer"} <= FIXED_ON_RESUME
    assert not FIXED_ON_RESUME & LIVE_FIELDS
