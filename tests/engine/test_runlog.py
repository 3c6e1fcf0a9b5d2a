"""The run log: append and flush, read past corrupt lines, follow a live file, resumes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from engine.events import (
    EvalCompleted,
    RunFinished,
    RunStarted,
    StepCompleted,
    event_from_dict,
)
from engine.run.log import RunLog, effective_history, follow_events, read_events
from engine.run.summary import curves, list_runs, summarise


def started(start_step: int = 0, resumed: bool = False) -> RunStarted:
    return RunStarted(
        run_id="r", config={"model": "lstm"}, n_params=10, device="cpu", dtype="float32",
        total_steps=6, steps_per_epoch=3, vocab_size=5, train_tokens=90, val_tokens=10,
        start_step=start_step, resumed=resumed, notes=("a note",),
    )  # fmt: skip


def step(n: int, loss: float = 1.0) -> StepCompleted:
    return StepCompleted(
        step=n, epoch=0, loss=loss, lr=0.01, tokens_per_s=1.0, grad_norm=1.0, elapsed_s=0.1,
        total_steps=6,
    )  # fmt: skip


def evaluation(n: int, val: float) -> EvalCompleted:
    return EvalCompleted(
        step=n, epoch=0, train_loss=val, val_loss=val, perplexity=2.0, bits_per_char=1.0,
        best_val_loss=val, is_best=True,
    )  # fmt: skip


def test_events_round_trip_through_dicts() -> None:
    for event in (started(), step(3), evaluation(2, 1.5)):
        again = event_from_dict(json.loads(json.dumps(event.to_dict())))
        assert again == event


def test_runlog_appends_and_flushes_each_event(tmp_path: Path) -> None:
    path = tmp_path / "run" / "events.jsonl"
    log = RunLog(path)
    log(started())
    # Readable by another reader before close: each line is flushed as it is written.
    assert [e.type for e in read_events(path)] == ["RunStarted"]
    log(step(1))
    assert len(path.read_text().splitlines()) == 2
    log.close()
    log(step(2))  # after close: ignored, no error
    assert len(read_events(path)) == 2
    # Appending again (a resumed run) keeps the earlier lines.
    again = RunLog(path)
    again(step(2))
    again.close()
    assert [e.type for e in read_events(path)] == ["RunStarted", "StepCompleted", "StepCompleted"]


def test_read_events_skips_and_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [
        json.dumps(started().to_dict()),
        "{not json",
        json.dumps({"type": "NoSuchEvent", "step": 1}),
        "",
        json.dumps(step(1).to_dict()),
        json.dumps({"type": "StepCompleted", "step": 2}),  # missing fields
        '["a list"]',
        json.dumps(step(2).to_dict())[:30],  # torn last line
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    bad: list[tuple[int, str]] = []
    events = read_events(path, on_bad_line=lambda n, why: bad.append((n, why)))
    assert [e.type for e in events] == ["RunStarted", "StepCompleted"]
    assert [n for n, _ in bad] == [2, 3, 6, 7, 8]
    assert "unknown event type 'NoSuchEvent'" in bad[1][1]
    assert all(why.startswith(f"line {n}:") for n, why in bad)


def test_follow_events_sees_appended_lines_and_holds_back_partial_ones(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    stop = threading.Event()
    seen: list = []

    def reader() -> None:
        for event in follow_events(path, stop=stop, poll_s=0.01):
            seen.append(event)

    thread = threading.Thread(target=reader)
    thread.start()

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 10
        while len(seen) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    try:
        time.sleep(0.05)  # the file does not exist yet: the follower waits for it
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(started().to_dict()) + "\n")
            fh.flush()
            wait_for(1)
            assert [e.type for e in seen] == ["RunStarted"]
            line = json.dumps(step(1).to_dict()) + "\n"
            fh.write(line[:25])  # the writer is mid-line
            fh.flush()
            time.sleep(0.15)
            assert len(seen) == 1  # the partial line is held back
            fh.write(line[25:])
            fh.write("garbage\n")
            fh.write(json.dumps(step(2).to_dict()) + "\n")
            fh.flush()
            wait_for(3)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert [(e.type, getattr(e, "step", None)) for e in seen] == [
        ("RunStarted", None),
        ("StepCompleted", 1),
        ("StepCompleted", 2),
    ]


def test_follow_events_stops_while_waiting_for_the_file(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    assert list(follow_events(tmp_path / "never.jsonl", stop=stop, poll_s=0.01)) == []


def test_effective_history_drops_steps_repeated_after_a_resume() -> None:
    first = [started(), step(1), step(2), evaluation(2, 2.0), step(3), step(4)]
    # The process died after step 4; latest.pt was from step 2.
    second = [started(start_step=2, resumed=True), step(3, 0.5), step(4, 0.4), step(5), step(6)]
    history = effective_history(first + second)
    steps = [(e.step, e.loss) for e in history if isinstance(e, StepCompleted)]
    assert steps == [(1, 1.0), (2, 1.0), (3, 0.5), (4, 0.4), (5, 1.0), (6, 1.0)]
    assert sum(isinstance(e, RunStarted) for e in history) == 2
    assert [e.step for e in history if isinstance(e, EvalCompleted)] == [2]
    data = curves(history)
    assert data.train_steps == [1, 2, 3, 4, 5, 6]
    assert data.val_steps == [2]


def test_summaries_of_run_folders(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    done = RunLog(runs / "a" / "events.jsonl")
    for event in (started(), step(1), evaluation(1, 1.7), evaluation(2, 1.2), step(2)):
        done(event)
    done(RunFinished(reason="completed", step=2, best_val_loss=1.2, elapsed_s=1.0))
    done.close()
    (runs / "b").mkdir()  # no events: not a run
    summaries = list_runs(runs)
    assert [s.run_id for s in summaries] == ["a"]
    s = summaries[0]
    assert (s.state, s.step, s.total_steps, s.best_val_loss, s.model) == (
        "finished", 2, 6, 1.2, "lstm",
    )  # fmt: skip
    assert summarise([], runs / "b").state == "unknown"
    assert list_runs(tmp_path / "missing") == []


def _strict(line: str) -> dict:
    """json.loads that refuses Infinity and NaN, as strict JSON parsers do."""

    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(line, parse_constant=refuse)


def test_every_logged_line_is_strict_json_and_infinity_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = RunLog(path)
    log(started())
    log(RunFinished(reason="stopped", step=0, best_val_loss=float("inf"), elapsed_s=0.1))
    log.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [_strict(line)["type"] for line in lines] == ["RunStarted", "RunFinished"]
    assert _strict(lines[1])["best_val_loss"] is None
    [_, finished] = read_events(path)
    assert finished.best_val_loss == float("inf")  # type: ignore[attr-defined]


def test_a_run_stopped_before_its_first_evaluation_logs_strict_json(
    make_config, runs_dir: Path
) -> None:
    from engine.control import Control
    from engine.events import StepCompleted
    from engine.train.trainer import Trainer

    control = Control()

    def stop_at_first_step(event) -> None:  # before the first evaluation; a stop before the
        if isinstance(event, StepCompleted):  # first step leaves no run folder at all
            control.stop()

    trainer = Trainer(make_config(max_steps=5, eval_interval=4), runs_dir=runs_dir, run_id="s")
    trainer.run(stop_at_first_step, control)
    for line in (runs_dir / "s" / "events.jsonl").read_text(encoding="utf-8").splitlines():
        _strict(line)
