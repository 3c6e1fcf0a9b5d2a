"""Dashboard responsiveness while training: key to screen for each control key, q from an
attached dashboard, a pause landing on an evaluation; optionally tokens/s vs headless.

- Keys: the dashboard trains (Textual's headless driver at 120x40, every frame rendered) and
  each key is sent as a terminal would send it; the time runs from the key to the first frame
  that shows its answer (a toast, the new temperature, the compare screen). ``p`` (pause and
  resume), ``w``, ``]`` and ``[`` repeat; ``C`` compares 3 runs in the run browser; ``x`` ends
  each round.
- ``q`` attached: a dashboard process follows a run another process trains (``llmv0 train``)
  and gets ``q``; the time runs from the key to the dashboard process's exit.
- Pause during an evaluation: the trainer alone (the default LSTM, the whole validation
  split); ``pause`` is sent as the evaluation starts, timed to ``RunPaused``.
- ``--throughput``: tokens/s inside the dashboard vs headless, as before.

Targets (idle machine): p95 key to screen < 100 ms for every key, q attached < 1 s, pause
during an evaluation < 1 s. The reference matmul before and after says how loaded it was.

    python bench/tui_overhead.py [--rounds 3] [--steps 400] [--throughput]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine_line, reference_matmul_ms
from engine import events as ev
from engine.config.schema import RunConfig
from engine.control import Control
from engine.train.trainer import Trainer

WARMUP_STEPS = 20
KEY_TIMEOUT_S = 10.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary(name: str, seconds: list[float], unit: float = 1000.0, label: str = "ms") -> str:
    if not seconds:
        return f"{name:<28} no answer within {KEY_TIMEOUT_S:.0f} s"
    values = [s * unit for s in seconds]
    return (
        f"{name:<28} median {statistics.median(values):8.1f} {label}, p95 "
        f"{p95(values):8.1f} {label}, max {max(values):8.1f} {label} (n={len(values)})"
    )


# --- keys while training ------------------------------------------------------------------


def key_event(key: str, character: str | None):
    from textual import events

    return events.Key(key, character)


async def keys_while_training(config: RunConfig, runs_dir: Path, repeats: int) -> dict:
    """Latency of each key (seconds) in one dashboard training ``config``."""
    from tui.dashboard.launch import make_app
    from tui.dashboard.trainer_factory import default_trainer_factory

    app = make_app(trainer_factory=default_trainer_factory(runs_dir), runs_dir=runs_dir)
    app.session.initial_config = config
    results: dict[str, list[float]] = defaultdict(list)
    pending: list[tuple[str, float, Callable[[], bool]]] = []
    answered = asyncio.Event()

    async with app.run_test(size=(120, 40)) as pilot:
        display = app._display

        def timed_display(screen, renderable) -> None:
            display(screen, renderable)
            if renderable is not None and pending:
                name, began, shown = pending[0]
                if shown():
                    results[name].append(time.perf_counter() - began)
                    pending.clear()
                    answered.set()

        app._display = timed_display  # type: ignore[method-assign]

        async def press(name: str, key: str, char: str | None, shown: Callable[[], bool]):
            app.clear_notifications()
            await asyncio.sleep(0.3)  # the toasts go; the screen settles
            answered.clear()
            pending[:] = [(name, time.perf_counter(), shown)]
            app._driver.send_message(key_event(key, char))
            try:
                await asyncio.wait_for(answered.wait(), KEY_TIMEOUT_S)
            except TimeoutError:  # counted as the whole wait: a key left unanswered shows
                pending.clear()
                results[name].append(KEY_TIMEOUT_S)

        async def until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
            deadline = time.monotonic() + timeout
            while not predicate() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)

        state = lambda: app.session.stats.state  # noqa: E731
        status = app.main_screen.status

        def status_says(*texts: str) -> Callable[[], bool]:
            # What the status bar renders; the frame being written holds it.
            return lambda: any(f"state {t}" in str(status.render()) for t in texts)

        await pilot.press("2", "s")  # the Generate tab shows the temperature being changed
        await until(lambda: state() == "running" and app.session.stats.step > WARMUP_STEPS)
        generation = app.main_screen.generation
        temperature = lambda: f"{generation.temperature:.1f}"  # noqa: E731
        for _ in range(repeats):
            for key, char, step in (
                ("right_square_bracket", "]", 1),
                ("left_square_bracket", "[", -1),
            ):
                target = f"{min(5.0, max(0.0, generation.temperature + 0.1 * step)):.1f}"
                await press(char, key, char, lambda t=target: temperature() == t)
            # Before "saving…" was shown, a toast answered w: the checkpoint cell is the
            # trainer's answer (what this measured there).
            saved = str(app.session.stats.last_checkpoint)
            await press(
                "w (save)", "w", "w",
                lambda s=saved: status_says("saving…")() or app.session.stats.last_checkpoint != s,
            )  # fmt: skip
            await until(lambda: not getattr(app.session.stats, "pending", ""))
            await press("p (pause)", "p", "p", status_says("pausing…", "paused"))
            await until(lambda: state() == "paused")
            await press("p (resume)", "p", "p", status_says("resuming…", "running"))
            await until(lambda: state() == "running")
        await compare_three(app, pilot, press, until)
        await press("x (stop)", "x", "x", status_says("stopping"))
        await until(lambda: app.session.terminal_event is not None, timeout=300)
    return results


async def compare_three(app, pilot, press, until) -> None:
    """Open the run browser, mark three runs, time C to the compare screen."""
    from tui.dashboard.screens.compare import CompareScreen
    from tui.dashboard.screens.run_browser import RunBrowser

    await pilot.press("r")
    await until(lambda: isinstance(app.screen, RunBrowser))
    await asyncio.sleep(0.5)
    await pilot.press("space", "down", "space", "down", "space")
    browser = app.screen

    def compare_answered() -> bool:  # "comparing 3 runs…" in the title, or the screen itself
        if isinstance(app.screen, CompareScreen):
            return True
        return "comparing" in str(browser.query_one("#browser-title").content)

    await press("C (compare 3 runs)", "C", "C", compare_answered)
    await until(lambda: isinstance(app.screen, CompareScreen) and app.screen.loaded)
    await pilot.press("escape")
    await until(lambda: isinstance(app.screen, RunBrowser))
    await pilot.press("escape")
    await until(lambda: app.screen is app.main_screen)


def make_past_runs(config: RunConfig, runs_dir: Path) -> None:
    """Three short runs for the compare key."""
    for i in range(3):
        cfg = config.model_copy(update={"max_steps": 30, "eval_interval": 10, "seed": i})
        Trainer(cfg, runs_dir=runs_dir, run_id=f"past-{i}").run(lambda e: None)


# --- q from an attached dashboard ----------------------------------------------------------


def attached_child(run: str, runs_dir: str, q_after_s: float) -> None:
    """In the dashboard process: q after ``q_after_s``, then the process exits as usual."""
    from textual import events

    from tui.dashboard.app import Dashboard
    from tui.dashboard.launch import run_dashboard

    mounted = Dashboard.on_mount

    async def on_mount(self: Dashboard) -> None:
        await mounted(self)

        def press_q() -> None:
            time.sleep(q_after_s)
            print(json.dumps({"key_at": time.time()}), flush=True)
            self.call_from_thread(self.post_message, events.Key("q", "q"))

        threading.Thread(target=press_q, daemon=True).start()

    Dashboard.on_mount = on_mount  # type: ignore[method-assign]
    run_dashboard(None, None, attach=run, runs_dir=Path(runs_dir))


def q_from_attached(corpus: str, work: Path, launches: int, q_after_s: float) -> list[float]:
    """Seconds from q to the exit of a dashboard attached to a run another process trains."""
    config = {"data_file": corpus, "max_steps": 10**6, "eval_interval": 200,
              "device": "cpu", "num_threads": 1}  # fmt: skip
    (work / "attached.json").write_text(json.dumps(config), encoding="utf-8")
    runs_dir = work / "attached-runs"
    llmv0 = Path(sys.executable).with_name("llmv0")
    trainer = subprocess.Popen(
        [str(llmv0), "train", "--config", str(work / "attached.json"), "--run-id", "followed",
         "--runs-dir", str(runs_dir), "--no-samples"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    times: list[float] = []
    try:
        events_file = runs_dir / "followed" / "events.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            events_file.exists() and events_file.stat().st_size > 2000  # a few steps logged
        ):
            time.sleep(0.2)
        env = {**os.environ, "TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver"}
        for _ in range(launches):
            child = subprocess.run(
                [sys.executable, __file__, "--attached-child", "followed",
                 "--runs-dir", str(runs_dir), "--q-after", str(q_after_s)],
                capture_output=True, text=True, env=env, timeout=120,
            )  # fmt: skip
            ended = time.time()
            for line in child.stdout.splitlines():
                if line.startswith("{"):
                    times.append(ended - json.loads(line)["key_at"])
    finally:
        os.killpg(trainer.pid, signal.SIGINT)  # it saves and stops, as Ctrl-C does
        try:
            trainer.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(trainer.pid, signal.SIGKILL)
    return times


# --- a pause landing on an evaluation ------------------------------------------------------


def pause_during_eval(corpus: str, runs_dir: Path, repeats: int) -> tuple[list[float], float]:
    """Seconds from pause (sent as an evaluation starts) to RunPaused; and one evaluation's
    length without a pause, for scale."""
    # A wider LSTM than the default, so one evaluation (the whole validation split, and as
    # many training windows) takes seconds, as a GPT's does.
    config = RunConfig(data_file=corpus, max_steps=21, eval_interval=20, sample_length=0,
                       hidden_dim=768, device="cpu", num_threads=1)  # fmt: skip
    eval_s = 0.0

    def plain(event: ev.Event) -> None:
        nonlocal eval_s
        if isinstance(event, ev.StepCompleted) and event.step == 20:
            eval_s = -time.perf_counter()
        elif isinstance(event, ev.EvalCompleted) and event.step == 20:
            eval_s += time.perf_counter()

    Trainer(config, runs_dir=runs_dir, run_id="eval-plain").run(plain)
    waits: list[float] = []
    for i in range(repeats):
        control = Control()
        sent: list[float] = []

        def sink(event: ev.Event, control: Control = control, sent: list[float] = sent) -> None:
            if isinstance(event, ev.StepCompleted) and event.step == 20:
                sent.append(time.perf_counter())
                control.pause()
            elif isinstance(event, ev.RunPaused):
                waits.append(time.perf_counter() - sent[0])
                threading.Timer(0.2, control.resume).start()

        Trainer(config, runs_dir=runs_dir, run_id=f"eval-pause-{i}").run(sink, control)
    return waits, eval_s


# --- tokens/s inside the dashboard vs headless (--throughput) ----------------------------


def throughput(steps: list[ev.StepCompleted], config: RunConfig) -> float:
    """Tokens per second between the warm-up step and the last step."""
    steps = [s for s in steps if s.step >= WARMUP_STEPS]
    tokens = (steps[-1].step - steps[0].step) * config.batch_size * config.seq_length
    return tokens / (steps[-1].elapsed_s - steps[0].elapsed_s)


def run_headless(config: RunConfig, runs_dir: Path) -> float:
    steps: list[ev.StepCompleted] = []
    Trainer(config, runs_dir=runs_dir).run(
        lambda e: steps.append(e) if isinstance(e, ev.StepCompleted) else None
    )
    return throughput(steps, config)


async def run_dashboard(config: RunConfig, runs_dir: Path) -> float:
    from tui.dashboard.launch import make_app
    from tui.dashboard.trainer_factory import default_trainer_factory

    app = make_app(trainer_factory=default_trainer_factory(runs_dir), runs_dir=runs_dir)
    app.session.initial_config = config
    steps: list[ev.StepCompleted] = []
    train = app.session.train

    def recording_train(config, resume, control, sink) -> None:
        def both(event: ev.Event) -> None:
            if isinstance(event, ev.StepCompleted):
                steps.append(event)
            sink(event)

        train(config, resume, control, both)

    app.session.train = recording_train  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        while app.session.terminal_event is None:
            await asyncio.sleep(0.25)
    return throughput(steps, config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=400, help="steps per dashboard round")
    parser.add_argument("--corpus", default="data/shakespeare.txt")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5, help="key cycles per round")
    parser.add_argument("--launches", type=int, default=5, help="attached dashboards to quit")
    parser.add_argument("--q-after", type=float, default=8.0, help="seconds before q")
    parser.add_argument("--throughput", action="store_true", help="also tokens/s vs headless")
    parser.add_argument("--only", default="keys,attached,eval", help="keys, attached, eval")
    parser.add_argument("--attached-child", help=argparse.SUPPRESS)
    parser.add_argument("--runs-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attached_child:
        attached_child(args.attached_child, args.runs_dir, args.q_after)
        return
    corpus = str(Path(args.corpus).resolve())
    print(machine_line())
    print(reference_matmul_ms(), "(before)")
    # num_threads 1: on a small shared CPU the dashboard and the trainer then share one core
    # the same way each round. Evaluations are off so keys meet steps, not evaluations.
    config = RunConfig(data_file=corpus, max_steps=10**6, eval_interval=10**9,
                       sample_length=0, device="cpu", dtype="float32", num_threads=1)  # fmt: skip
    latencies: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sections = set(args.only.split(","))
        if "keys" in sections:
            make_past_runs(config, work / "runs")
        for round_ in range(args.rounds if "keys" in sections else 0):
            found = asyncio.run(keys_while_training(config, work / "runs", args.repeats))
            for name, values in found.items():
                latencies[name] += values
            print(f"round {round_ + 1}: " + ", ".join(f"{k} {len(v)}" for k, v in found.items()))
        print("key to screen while training:")
        for name in sorted(latencies):
            print("  " + summary(name, latencies[name]))
        if "attached" in sections:
            q_times = q_from_attached(corpus, work, args.launches, args.q_after)
            print("  " + summary("q from attached (to exit)", q_times))
        if "eval" in sections:
            waits, eval_s = pause_during_eval(corpus, work / "eval-runs", args.rounds)
            print(
                "  "
                + summary("pause during an evaluation", waits)
                + f"; one evaluation takes {eval_s:.2f} s"
            )
        if args.throughput:
            short = config.model_copy(update={"max_steps": args.steps})
            headless = [run_headless(short, work / f"h{i}") for i in range(args.rounds)]
            dashboard = [
                asyncio.run(run_dashboard(short, work / f"d{i}")) for i in range(args.rounds)
            ]
            ratio = statistics.median(d / h for d, h in zip(dashboard, headless, strict=True))
            print(
                f"tokens/s: headless {statistics.mean(headless):,.0f}, dashboard "
                f"{statistics.mean(dashboard):,.0f} (median round {ratio:.1%}; target >= 95%)"
            )
    print(reference_matmul_ms(), "(after)")
    print(machine_line())


if __name__ == "__main__":
    main()
