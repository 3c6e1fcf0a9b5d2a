"""A pause or stop sent during an evaluation lands between two of its batches, not after it.

Each evaluation batch is slowed to 0.1 s (the evaluation then takes a second or more), and the
command is sent from the sink as the evaluation begins: the step that triggers it is reported
just before it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import events as ev
from engine.analysis import evaluate as evaluate_module
from engine.control import Control
from engine.train.trainer import Trainer

EVAL_AT = 5
BATCH_DELAY_S = 0.1


@pytest.fixture
def slow_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    @contextlib.contextmanager
    def slow_autocast(device: object, dtype: object) -> Iterator[None]:
        time.sleep(BATCH_DELAY_S)
        yield

    monkeypatch.setattr(evaluate_module, "autocast", slow_autocast)


@pytest.fixture
def big_corpus(tmp_path: Path, corpus: Path) -> Path:
    """Enough validation text for several evaluation batches (128 windows each)."""
    path = tmp_path / "big.txt"
    path.write_text(corpus.read_text(encoding="utf-8") * 20, encoding="utf-8")
    return path


def train(make_config, big_corpus: Path, runs_dir: Path, on_event) -> list[ev.Event]:
    config = make_config(
        data_file=str(big_corpus), max_steps=EVAL_AT + 2, eval_interval=EVAL_AT, sample_length=0
    )
    control = Control()
    events: list[ev.Event] = []

    def sink(event: ev.Event) -> None:
        events.append(event)
        on_event(event, control)

    Trainer(config, runs_dir=runs_dir, run_id="run").run(sink, control)
    return events


@pytest.mark.usefixtures("slow_eval")
def test_a_pause_during_an_evaluation_lands_before_it_ends(
    make_config, big_corpus: Path, runs_dir: Path
) -> None:
    times: dict[str, float] = {}

    def on_event(event: ev.Event, control: Control) -> None:
        if isinstance(event, ev.StepCompleted) and event.step == EVAL_AT:
            times["pause sent"] = time.monotonic()
            control.pause()
        elif isinstance(event, ev.RunPaused):
            times["paused"] = time.monotonic()
            # Resume from elsewhere, as the dashboard would, a little later.
            threading.Timer(0.3, control.resume).start()

    events = train(make_config, big_corpus, runs_dir, on_event)
    kinds = [type(e).__name__ for e in events if not isinstance(e, ev.StepCompleted)]
    at_eval = kinds.index("RunPaused")
    assert kinds[at_eval : at_eval + 3] == ["RunPaused", "RunResumed", "EvalCompleted"]
    assert times["paused"] - times["pause sent"] < 1.0
    evals = [e for e in events if isinstance(e, ev.EvalCompleted)]
    assert evals[0].step == EVAL_AT  # the evaluation went on after the pause, at its step
    assert events[-1].reason == "completed"  # type: ignore[union-attr]


@pytest.mark.usefixtures("slow_eval")
def test_a_stop_during_an_evaluation_ends_the_run_with_its_checkpoint(
    make_config, big_corpus: Path, runs_dir: Path
) -> None:
    times: dict[str, float] = {}

    def on_event(event: ev.Event, control: Control) -> None:
        if isinstance(event, ev.StepCompleted) and event.step == EVAL_AT:
            times["stop sent"] = time.monotonic()
            control.stop()
        elif isinstance(event, ev.RunFinished):
            times["finished"] = time.monotonic()

    events = train(make_config, big_corpus, runs_dir, on_event)
    assert not [e for e in events if isinstance(e, ev.EvalCompleted)]
    finished = events[-1]
    assert isinstance(finished, ev.RunFinished)
    assert (finished.reason, finished.step) == ("stopped", EVAL_AT)
    assert (runs_dir / "run" / "latest.pt").exists()
    assert times["finished"] - times["stop sent"] < 1.0


@pytest.mark.usefixtures("slow_eval")
def test_other_commands_sent_during_an_evaluation_apply_after_it_in_order(
    make_config, big_corpus: Path, runs_dir: Path
) -> None:
    def on_event(event: ev.Event, control: Control) -> None:
        if isinstance(event, ev.StepCompleted) and event.step == EVAL_AT:
            control.set("learning_rate", 0.002)
            control.set("learning_rate", 0.003)

    events = train(make_config, big_corpus, runs_dir, on_event)
    changes = [e for e in events if isinstance(e, ev.ConfigChanged)]
    assert [(c.step, c.new) for c in changes] == [(EVAL_AT, 0.002), (EVAL_AT, 0.003)]
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("EvalCompleted") < kinds.index("ConfigChanged")
