"""Resume checks its inputs: a checkpoint from another run is refused (with the command that
resumes it as its own run) and never replaces the folder's best.pt; an edited config.json is
applied where a resume may change the field, refused with the difference where it may not.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.config.fields import ConfigError
from engine.control import Control
from engine.events import RunStarted, StepCompleted
from engine.run.checkpoint import CheckpointError
from engine.train.trainer import Trainer


def train(make_config, runs_dir: Path, run_id: str, **fields) -> Path:
    cfg = make_config(max_steps=4, eval_interval=2, sample_length=0, **fields)
    Trainer(cfg, runs_dir=runs_dir, run_id=run_id).run()
    return runs_dir / run_id


def test_a_foreign_latest_is_refused_and_best_is_kept(make_config, runs_dir: Path) -> None:
    a = train(make_config, runs_dir, "a")
    b = train(make_config, runs_dir, "b", learning_rate=0.02)
    shutil.copyfile(a / "latest.pt", b / "latest.pt")  # from another run
    best_before = (b / "best.pt").read_bytes()
    for ref in ("b", str(b), str(b / "latest.pt")):
        with pytest.raises(CheckpointError) as refused:
            Trainer(runs_dir=runs_dir, resume=ref).run()
        text = str(refused.value)
        assert "written by run a" in text and "llmv0 train --resume a" in text
        assert "\n" not in text
    assert (b / "best.pt").read_bytes() == best_before


def test_the_refusal_says_how_to_resume_a_copy_as_its_own_run(
    make_config, runs_dir: Path, tmp_path: Path
) -> None:
    a = train(make_config, runs_dir, "a")
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()
    shutil.copyfile(a / "latest.pt", elsewhere / "model.pt")
    shutil.rmtree(a)
    with pytest.raises(CheckpointError) as refused:
        Trainer(runs_dir=runs_dir, resume=elsewhere / "model.pt")
    text = str(refused.value)
    assert f"mkdir -p {runs_dir / 'a'}" in text and "llmv0 train --resume a" in text
    assert not (elsewhere / "events.jsonl").exists()  # nothing written beside it


def _edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_an_edited_live_field_is_applied_and_said(make_config, runs_dir: Path) -> None:
    run = train(make_config, runs_dir, "r")
    _edit_config(run, learning_rate=0.002, max_steps=6)
    events: list = []
    result = Trainer(runs_dir=runs_dir, resume="r").run(events.append)
    assert result.step == 6
    [started] = [e for e in events if isinstance(e, RunStarted)]
    assert started.config["learning_rate"] == 0.002
    assert any("config.json" in n and "learning_rate 0.01 -> 0.002" in n for n in started.notes)


def test_an_edited_fixed_field_is_refused_with_the_difference(make_config, runs_dir) -> None:
    run = train(make_config, runs_dir, "r")
    _edit_config(run, seq_length=32, learning_rate=0.002)
    with pytest.raises(ConfigError) as refused:
        Trainer(runs_dir=runs_dir, resume="r")
    text = str(refused.value)
    assert "seq_length" in text and "32" in text and "16" in text
    assert "learning_rate" not in text  # that one would have been applied


def test_a_live_change_is_not_taken_for_an_edit(make_config, runs_dir: Path) -> None:
    cfg = make_config(max_steps=8, eval_interval=4, sample_length=0)
    control = Control()

    def sink(event) -> None:
        if isinstance(event, StepCompleted) and event.step == 2:
            control.set("learning_rate", 0.003)
        if isinstance(event, StepCompleted) and event.step == 5:
            control.stop()

    Trainer(cfg, runs_dir=runs_dir, run_id="r").run(sink, control)
    events: list = []
    Trainer(runs_dir=runs_dir, resume="r").run(events.append)
    [started] = [e for e in events if isinstance(e, RunStarted)]
    assert started.config["learning_rate"] == 0.003
    assert not any("config.json" in n for n in started.notes)


MUON_GPT = {"model": "gpt", "optimizer": "muon", "n_layer": 1, "n_head": 2, "n_embd": 16}


def test_a_muon_adamw_pair_is_checked_part_by_part(make_config, runs_dir: Path) -> None:
    """Muon + AdamW keeps one torch state per part ({"muon": ..., "adamw": ...}): the check
    first refused every such checkpoint as "not an optimizer state"; now a run resumes, and
    a damaged part is named."""
    import torch

    from engine.events import RunFailed

    cfg = make_config(max_steps=6, eval_interval=2, sample_length=0, **MUON_GPT)
    train(make_config, runs_dir, "m", **MUON_GPT)
    done = Trainer(cfg, runs_dir=runs_dir, resume="m").run()
    assert getattr(done, "reason", None) == "completed", done

    damaged = train(make_config, runs_dir, "n", **MUON_GPT)
    payload = torch.load(damaged / "latest.pt", weights_only=False)
    state = payload["optimizer"]["muon"]["state"]
    first = next(iter(state))
    state[first]["momentum_buffer"] = torch.zeros(3, 3)
    torch.save(payload, damaged / "latest.pt")
    failed = Trainer(cfg, runs_dir=runs_dir, resume="n").run()
    assert isinstance(failed, RunFailed)
    assert f"optimizer.muon.state.{first}.momentum_buffer" in failed.error
