"""Trainer: learning, event order, the control queue, early stopping and failures."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import pytest
import torch

from engine.control import Command, Control
from engine.errors import UserError
from engine.events import (
    CheckpointSaved,
    ConfigChanged,
    EpochCompleted,
    EvalCompleted,
    RunFailed,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    RunWarning,
    SampleGenerated,
    StepCompleted,
)
from engine.models.lstm import CharLSTM
from engine.run import checkpoint as ckpt
from engine.run.log import read_events
from engine.train.trainer import Trainer


def run(cfg, runs_dir: Path, recorder, control: Control | None = None, **kwargs):
    trainer = Trainer(cfg, runs_dir=runs_dir, run_id=kwargs.pop("run_id", "run"), **kwargs)
    return trainer, trainer.run(recorder, control)


def on_step(recorder, control: Control, step: int, *commands: Command):
    """A sink that records events and sends ``commands`` when ``step`` completes."""

    def sink(event) -> None:
        recorder(event)
        if isinstance(event, StepCompleted) and event.step == step:
            for command in commands:
                control.send(command)

    return sink


def test_loss_falls_on_a_small_corpus(make_config, runs_dir, recorder) -> None:
    _, result = run(make_config(max_steps=60, eval_interval=30), runs_dir, recorder)
    assert isinstance(result, RunFinished) and result.reason == "completed"
    losses = [e.loss for e in recorder.of(StepCompleted)]
    assert len(losses) == 60
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < first - 1.0, (first, last)
    evals = recorder.of(EvalCompleted)
    assert evals[-1].val_loss < evals[0].val_loss
    assert evals[-1].val_loss < math.log(len(set(Path(make_config().data_file).read_text())))


def test_event_order_and_contents(make_config, runs_dir, recorder) -> None:
    trainer, result = run(make_config(max_steps=25, eval_interval=10), runs_dir, recorder)
    events = recorder.events
    assert isinstance(events[0], RunStarted)
    assert events[-1] is result
    terminal = [e for e in events if isinstance(e, RunFinished | RunFailed)]
    assert terminal == [result]
    started = events[0]
    assert started.run_id == "run" and not started.resumed and started.device == "cpu"
    assert started.total_steps == 25 and started.n_params > 0
    assert started.config["seq_length"] == 16

    steps = [e.step for e in recorder.of(StepCompleted)]
    assert steps == list(range(1, 26))
    for e in recorder.of(StepCompleted):
        assert math.isfinite(e.loss) and e.grad_norm > 0 and e.tokens_per_s > 0
        assert e.lr == pytest.approx(0.01) and e.total_steps == 25
    # Evaluations every eval_interval steps and at the end, each followed by a sample
    # and checkpoints; every event of a step comes after that step's StepCompleted.
    evals = recorder.of(EvalCompleted)
    assert [e.step for e in evals] == [10, 20, 25]
    for e in evals:
        assert e.perplexity == pytest.approx(math.exp(e.val_loss))
        assert e.bits_per_char == pytest.approx(e.val_loss / math.log(2))
    assert [e.step for e in recorder.of(SampleGenerated)] == [10, 20, 25]
    assert all(len(e.text) == 20 for e in recorder.of(SampleGenerated))
    saved = recorder.of(CheckpointSaved)
    assert {(e.step, e.kind) for e in saved} >= {(10, "latest"), (25, "latest"), (10, "best")}
    last_step = 0
    for e in events[1:-1]:
        if isinstance(e, StepCompleted):
            assert e.step == last_step + 1
            last_step = e.step
        elif hasattr(e, "step"):
            assert e.step == last_step
    spe = started.steps_per_epoch
    assert [e.step for e in recorder.of(EpochCompleted)] == list(range(spe, 26, spe))
    assert (trainer.run_dir / "latest.pt").is_file() and (trainer.run_dir / "best.pt").is_file()
    assert (trainer.run_dir / "config.json").is_file()


def test_events_jsonl_holds_every_published_event(make_config, runs_dir, recorder) -> None:
    trainer, _ = run(make_config(), runs_dir, recorder)
    logged = read_events(trainer.run_dir / "events.jsonl")
    assert [e.to_dict() for e in logged] == [e.to_dict() for e in recorder.events]


def test_pause_then_resume_continues(make_config, runs_dir, recorder) -> None:
    control = Control()
    sink = on_step(recorder, control, 4, Command("pause"), Command("resume"))
    _, result = run(make_config(), runs_dir, sink, control)
    assert isinstance(result, RunFinished) and result.reason == "completed"
    types = recorder.types
    paused, resumed = types.index("RunPaused"), types.index("RunResumed")
    assert recorder.events[paused].step == 4 and recorder.events[resumed].step == 4
    assert types[paused - 1] == "StepCompleted" and paused < resumed
    assert [e.step for e in recorder.of(StepCompleted)] == list(range(1, 21))


def test_pause_blocks_training_until_resume_from_another_thread(
    make_config, runs_dir, recorder
) -> None:
    control = Control()
    sink = on_step(recorder, control, 3, Command("pause"))
    trainer = Trainer(make_config(), runs_dir=runs_dir, run_id="run")
    thread = threading.Thread(target=trainer.run, args=(sink, control))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not recorder.of(RunPaused) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert recorder.of(RunPaused)
        time.sleep(0.3)
        assert [e.step for e in recorder.of(StepCompleted)] == [1, 2, 3]  # nothing while paused
        snapshot = trainer.snapshot()  # consumers can copy the model while paused
        assert snapshot is not None and not snapshot[0].training
    finally:
        control.resume()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert recorder.of(RunResumed)[0].step == 3
    assert recorder.events[-1].reason == "completed"


def test_stop_saves_latest_and_finishes_stopped(make_config, runs_dir, recorder) -> None:
    control = Control()
    sink = on_step(recorder, control, 7, Command("stop"))
    trainer, result = run(make_config(eval_interval=100), runs_dir, sink, control)
    assert isinstance(result, RunFinished)
    assert result.reason == "stopped" and result.step == 7
    assert [e.step for e in recorder.of(StepCompleted)] == list(range(1, 8))
    saved = recorder.of(CheckpointSaved)
    assert [(e.step, e.kind) for e in saved] == [(7, "latest")]
    assert ckpt.load_checkpoint(trainer.run_dir / "latest.pt")["step"] == 7
    assert recorder.events[-1] is result


def test_stop_while_paused(make_config, runs_dir, recorder) -> None:
    control = Control()
    sink = on_step(recorder, control, 2, Command("pause"), Command("stop"))
    _, result = run(make_config(), runs_dir, sink, control)
    assert result.reason == "stopped" and result.step == 2
    assert "RunPaused" in recorder.types


def test_save_now(make_config, runs_dir, recorder) -> None:
    control = Control()
    sink = on_step(recorder, control, 3, Command("save"))
    run(make_config(max_steps=5, eval_interval=100), runs_dir, sink, control)
    saved = recorder.of(CheckpointSaved)
    assert (3, "latest") in [(e.step, e.kind) for e in saved]
    first = recorder.types.index("CheckpointSaved")
    assert recorder.events[first - 1].step == 3  # applied right after step 3


def test_sample_now(make_config, runs_dir, recorder) -> None:
    control = Control()
    sink = on_step(recorder, control, 2, Command("sample"))
    run(make_config(max_steps=4, eval_interval=100), runs_dir, sink, control)
    assert [e.step for e in recorder.of(SampleGenerated)] == [2, 4]


def test_set_learning_rate_applies_to_the_next_step(make_config, runs_dir, recorder) -> None:
    control = Control()
    sink = on_step(recorder, control, 5, Command("set", "learning_rate", 0.0025))
    trainer, _ = run(make_config(max_steps=8), runs_dir, sink, control)
    changed = recorder.of(ConfigChanged)
    assert [(e.name, e.old, e.new, e.step) for e in changed] == [("learning_rate", 0.01, 0.0025, 5)]
    lrs = {e.step: e.lr for e in recorder.of(StepCompleted)}
    assert lrs[5] == 0.01
    assert lrs[6] == 0.0025 and lrs[8] == 0.0025
    # The checkpoint remembers the change, so a resume keeps it.
    assert ckpt.load_checkpoint(trainer.run_dir / "latest.pt")["config"]["learning_rate"] == 0.0025


def test_set_non_live_or_invalid_field_is_refused(make_config, runs_dir, recorder) -> None:
    control = Control()
    sink = on_step(
        recorder,
        control,
        2,
        Command("set", "seq_length", 8),
        Command("set", "learning_rate", -1.0),
        Command("set", "eval_interval", 3),
    )
    trainer, result = run(make_config(max_steps=6, eval_interval=100), runs_dir, sink, control)
    assert result.reason == "completed"
    warnings = recorder.of(RunWarning)
    assert len(warnings) == 2
    assert "seq_length: cannot change during a run" in warnings[0].message
    assert "learning_rate" in warnings[1].message
    assert trainer.config.seq_length == 16 and trainer.config.learning_rate == 0.01
    assert [e.name for e in recorder.of(ConfigChanged)] == ["eval_interval"]
    assert [e.step for e in recorder.of(EvalCompleted)] == [3, 6]  # the new interval applies
    assert all(e.lr == 0.01 for e in recorder.of(StepCompleted))


def test_early_stopping_on_a_plateau(make_config, runs_dir, recorder) -> None:
    # A learning rate far below float32 resolution: the weights, so the val loss, never move.
    cfg = make_config(max_steps=60, learning_rate=1e-10, eval_interval=2, early_stopping_patience=2)
    _, result = run(cfg, runs_dir, recorder)
    assert isinstance(result, RunFinished) and result.reason == "early_stopping"
    evals = recorder.of(EvalCompleted)
    assert [e.step for e in evals] == [2, 4, 6]
    assert [e.is_best for e in evals] == [True, False, False]
    assert result.step == 6 and result.best_val_loss == evals[0].val_loss


def test_non_finite_loss_fails_and_keeps_the_last_good_checkpoint(
    make_config, runs_dir, recorder, monkeypatch
) -> None:
    original = CharLSTM.forward
    calls = {"train": 0}

    def forward(self, idx, targets=None, state=None):
        logits, loss = original(self, idx, targets, state)
        if self.training:
            calls["train"] += 1
            if calls["train"] >= 14:
                loss = loss * float("nan")
        return logits, loss

    monkeypatch.setattr(CharLSTM, "forward", forward)
    trainer, result = run(make_config(max_steps=20, eval_interval=10), runs_dir, recorder)
    assert isinstance(result, RunFailed)
    assert result.step == 13
    assert "diverged" in result.error and "nan" in result.error
    assert recorder.events[-1] is result
    assert not recorder.of(RunFinished)
    assert [e.step for e in recorder.of(StepCompleted)][-1] == 13
    good = trainer.run_dir / "latest.pt"
    payload = ckpt.load_checkpoint(good)
    assert payload["step"] == 10
    assert all(torch.isfinite(t).all() for t in payload["model"].values())


def test_bad_corpus_fails_without_raising(make_config, runs_dir, recorder, tmp_path) -> None:
    trainer, result = run(make_config(data_file=str(tmp_path / "missing.txt")), runs_dir, recorder)
    assert isinstance(result, RunFailed)
    assert "does not exist" in result.error
    assert recorder.types == ["RunFailed"]
    assert not trainer.run_dir.exists(), "a run that cannot start leaves no run folder"
    assert isinstance(trainer.error, UserError)


def test_too_short_corpus_fails_without_raising(make_config, runs_dir, recorder, tmp_path) -> None:
    short = tmp_path / "short.txt"
    short.write_text("tiny text", encoding="utf-8")
    _, result = run(make_config(data_file=str(short)), runs_dir, recorder)
    assert isinstance(result, RunFailed) and "seq_length" in result.error


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_fails_without_raising(make_config, runs_dir, recorder) -> None:
    _, result = run(make_config(device="cuda"), runs_dir, recorder)
    assert isinstance(result, RunFailed) and "cuda" in result.error


def test_a_broken_sink_does_not_kill_training(make_config, runs_dir) -> None:
    def sink(event) -> None:
        raise RuntimeError("consumer bug")

    trainer = Trainer(make_config(max_steps=5), runs_dir=runs_dir, run_id="run")
    result = trainer.run(sink)
    assert isinstance(result, RunFinished) and result.reason == "completed"


def test_grad_clip_and_accumulation(make_config, runs_dir, recorder) -> None:
    cfg = make_config(max_steps=5, grad_clip=0.05, grad_accum_steps=2, eval_interval=100)
    _, result = run(cfg, runs_dir, recorder)
    assert result.reason == "completed"
    # grad_norm is the norm before clipping: it is reported even when it exceeds the clip.
    assert max(e.grad_norm for e in recorder.of(StepCompleted)) > 0.05


def test_unknown_command_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown command"):
        Control().send(Command("explode"))
