"""The trainer built from parts: attributes born in __init__, state checkpointed as one,
broadcast fields from the schema, a swappable schedule."""

from __future__ import annotations

from pathlib import Path

from engine.config.schema import LIVE_FIELDS, RunConfig
from engine.run.checkpoint import load_checkpoint
from engine.train.commands import BROADCAST_FIELDS
from engine.train.state import TrainState
from engine.train.trainer import Trainer


def test_every_attribute_is_born_in_init(make_config, runs_dir: Path) -> None:
    trainer = Trainer(make_config(max_steps=6, eval_interval=3), runs_dir=runs_dir, run_id="a")
    born = set(vars(trainer))
    trainer.run()
    assert set(vars(trainer)) == born


def test_the_state_is_checkpointed_as_one_object(make_config, runs_dir: Path) -> None:
    trainer = Trainer(make_config(max_steps=6, eval_interval=3), runs_dir=runs_dir, run_id="b")
    trainer.run()
    saved = TrainState.from_payload(load_checkpoint(runs_dir / "b" / "latest.pt"))
    assert saved == trainer.state and saved.step == 6 and saved.best_val_loss < 10


def test_broadcast_fields_are_the_schemas_numeric_live_fields() -> None:
    assert {"learning_rate", "eval_interval"} <= set(BROADCAST_FIELDS) <= LIVE_FIELDS
    assert "sample_prompt" not in BROADCAST_FIELDS  # text is not broadcast as a number
    numeric = {n for n in LIVE_FIELDS if RunConfig.model_fields[n].annotation in (int, float)}
    assert set(BROADCAST_FIELDS) == numeric


def test_the_schedule_is_one_swappable_function(make_config, runs_dir: Path) -> None:
    seen: list[tuple[int, int]] = []

    def halving(state: TrainState, total: int, cfg: RunConfig, progress: float | None) -> float:
        assert progress is None  # no time budget: the schedule counts steps
        seen.append((state.step, total))
        return cfg.learning_rate / 2

    lrs: list[float] = []
    trainer = Trainer(
        make_config(max_steps=4, eval_interval=4), runs_dir=runs_dir, run_id="c", schedule=halving
    )
    trainer.run(lambda e: lrs.append(e.lr) if e.type == "StepCompleted" else None)
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert lrs == [trainer.config.learning_rate / 2] * 4
