"""Exact resume: on CPU, the losses after a resume equal those of an uninterrupted run."""

from __future__ import annotations

import pytest

from engine.config.fields import ConfigError
from engine.control import Control
from engine.events import EvalCompleted, RunStarted, SampleGenerated, StepCompleted
from engine.run.folder import RunNotFoundError
from engine.run.log import read_events
from engine.run.summary import load_history
from engine.train.trainer import Trainer

N = 24


def losses(recorder) -> dict[int, float]:
    return {e.step: e.loss for e in recorder.of(StepCompleted)}


def stop_at(recorder, control: Control, step: int):
    def sink(event) -> None:
        recorder(event)
        if isinstance(event, StepCompleted) and event.step == step:
            control.stop()

    return sink


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"dropout": 0.3, "num_layers": 2},
        {"lr_schedule": "cosine", "warmup_steps": 5, "optimizer": "adamw", "weight_decay": 0.1},
    ],
    ids=["plain", "dropout-2-layers", "cosine-adamw"],
)
def test_resume_continues_exactly(make_config, runs_dir, new_recorder, fields) -> None:
    cfg = make_config(max_steps=N, eval_interval=5, **fields)

    straight = new_recorder()
    Trainer(cfg, runs_dir=runs_dir, run_id="straight").run(straight)

    first = new_recorder()
    control = Control()
    stopped = Trainer(cfg, runs_dir=runs_dir, run_id="split").run(
        stop_at(first, control, N // 2), control
    )
    assert stopped.reason == "stopped" and stopped.step == N // 2

    second = new_recorder()
    result = Trainer(runs_dir=runs_dir, resume="split").run(second)
    assert result.reason == "completed" and result.step == N
    started = second.of(RunStarted)[0]
    assert started.resumed and started.start_step == N // 2

    expected = losses(straight)
    assert losses(first) == {s: expected[s] for s in range(1, N // 2 + 1)}
    assert losses(second) == {s: expected[s] for s in range(N // 2 + 1, N + 1)}  # exact ==
    straight_evals = [(e.step, e.val_loss) for e in straight.of(EvalCompleted)]
    split_evals = [(e.step, e.val_loss) for e in first.of(EvalCompleted)] + [
        (e.step, e.val_loss) for e in second.of(EvalCompleted)
    ]
    assert split_evals == straight_evals
    straight_samples = [e.text for e in straight.of(SampleGenerated)]
    split_samples = [e.text for e in first.of(SampleGenerated)] + [
        e.text for e in second.of(SampleGenerated)
    ]
    assert split_samples == straight_samples

    # The run folder's log holds both sessions; its effective history reads as one run.
    logged = read_events(runs_dir / "split" / "events.jsonl")
    assert [e.type for e in logged].count("RunStarted") == 2
    history_steps = [e.step for e in load_history(runs_dir / "split") if e.type == "StepCompleted"]
    assert history_steps == list(range(1, N + 1))


def test_resume_after_a_crash_replays_the_steps_after_the_last_checkpoint(
    make_config, runs_dir, recorder, new_recorder
) -> None:
    """latest.pt is from step 10; steps 11-13 were logged but lost: they are redone exactly."""
    cfg = make_config(max_steps=20, eval_interval=10)
    straight = new_recorder()
    Trainer(cfg, runs_dir=runs_dir, run_id="straight").run(straight)
    control = Control()
    Trainer(cfg, runs_dir=runs_dir, run_id="crash").run(
        stop_at(new_recorder(), control, 13), control
    )
    # Pretend the process died at step 13 before it could save: restore the step-10 file.
    best = runs_dir / "crash" / "best.pt"
    (runs_dir / "crash" / "latest.pt").write_bytes(best.read_bytes())

    Trainer(runs_dir=runs_dir, resume=runs_dir / "crash").run(recorder)
    assert losses(recorder) == {s: losses(straight)[s] for s in range(11, 21)}
    history = load_history(runs_dir / "crash")
    steps = [e.step for e in history if isinstance(e, StepCompleted)]
    assert steps == list(range(1, 21))  # the replaced steps 11-13 appear once


def test_resume_refuses_a_config_that_changes_the_model(make_config, runs_dir) -> None:
    cfg = make_config(max_steps=4)
    Trainer(cfg, runs_dir=runs_dir, run_id="r").run()
    with pytest.raises(ConfigError) as info:
        Trainer(
            make_config(max_steps=8, hidden_dim=64, seq_length=8), runs_dir=runs_dir, resume="r"
        )
    assert set(info.value.problems) == {"hidden_dim", "seq_length"}
    # Fields that don't change the model or data order may change.
    trainer = Trainer(make_config(max_steps=8, learning_rate=0.002), runs_dir=runs_dir, resume="r")
    assert trainer.config.learning_rate == 0.002


def test_resume_of_a_missing_run_is_a_clear_error(runs_dir) -> None:
    with pytest.raises(RunNotFoundError, match="No run or checkpoint named"):
        Trainer(runs_dir=runs_dir, resume="nope")
