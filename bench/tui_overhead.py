"""Dashboard overhead: training tokens/s inside llmv0-tui vs headless, and key-press latency.

Alternates headless runs (``Trainer.run`` with a no-op sink) with dashboard runs (Textual's
headless driver at 120x40, every frame rendered), then injects a temperature key every 0.25 s
while training and times key to first frame showing the change (median, p95). ``--inspect``
adds the Inspect screen's surprise view and times its cursor keys the same way. Targets:
dashboard >= 95% of headless tokens/s; p95 latency < 100 ms.

    python bench/tui_overhead.py [--steps 400] [--corpus data/shakespeare.txt] [--inspect]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from textual import events

from engine import events as ev
from engine.config.schema import RunConfig
from engine.train.trainer import Trainer
from tui.dashboard.launch import make_app
from tui.dashboard.trainer_factory import default_trainer_factory

WARMUP_STEPS = 20


def throughput(steps: list[ev.StepCompleted], config: RunConfig) -> float:
    """Tokens per second between the warm-up step and the last step."""
    steps = [s for s in steps if s.step >= WARMUP_STEPS]
    tokens = (steps[-1].step - steps[0].step) * config.batch_size * config.seq_length
    return tokens / (steps[-1].elapsed_s - steps[0].elapsed_s)


def run_headless(config: RunConfig, runs_dir: Path) -> float:
    steps: list[ev.StepCompleted] = []

    def sink(event: ev.Event) -> None:
        if isinstance(event, ev.StepCompleted):
            steps.append(event)

    Trainer(config, runs_dir=runs_dir).run(sink)
    return throughput(steps, config)


async def run_dashboard(
    config: RunConfig, runs_dir: Path, press_keys: bool
) -> tuple[float, list[float]]:
    """Train inside the dashboard; with ``press_keys``, also time key presses meanwhile."""
    app = make_app(trainer_factory=default_trainer_factory(runs_dir))
    app.initial_config = config
    steps: list[ev.StepCompleted] = []
    latencies: list[float] = []
    pending: dict[str, float] = {}  # expected temperature text -> key time

    async with app.run_test(size=(120, 40)) as pilot:
        sink = app._sink

        def recording_sink(event: ev.Event) -> None:
            if isinstance(event, ev.StepCompleted):
                steps.append(event)
            sink(event)

        app._sink = recording_sink  # type: ignore[method-assign]
        display = app._display

        def timed_display(screen, renderable) -> None:
            display(screen, renderable)
            if renderable is not None and pending:
                shown = f"{app.main_screen.generation.temperature:.1f}"
                if shown in pending:
                    latencies.append(time.perf_counter() - pending.pop(shown))

        app._display = timed_display  # type: ignore[method-assign]
        await pilot.press("2", "s")  # the Generate tab shows the temperature being changed
        direction = 1
        while app.terminal_event is None:
            await asyncio.sleep(0.25)
            if not press_keys or app.session.stats.state != "running" or pending:
                continue
            key = "right_square_bracket" if direction > 0 else "left_square_bracket"
            target = min(
                5.0, max(0.0, round(app.main_screen.generation.temperature + 0.1 * direction, 2))
            )
            pending[f"{target:.1f}"] = time.perf_counter()
            app._driver.send_message(events.Key(key, None))
            direction = -direction
    return throughput(steps, config), latencies


async def run_inspect(
    config: RunConfig, runs_dir: Path, press_keys: bool
) -> tuple[float, list[float]]:
    """Train with the Inspect screen open and refreshing; with ``press_keys``, also move its
    cursor every 0.25 s and time each move to the screen."""
    from tui.dashboard.screens.inspect import InspectScreen

    app = make_app(trainer_factory=default_trainer_factory(runs_dir))
    app.initial_config = config
    steps: list[ev.StepCompleted] = []
    latencies: list[float] = []
    pending: dict[int, float] = {}  # expected cursor -> key time

    async with app.run_test(size=(120, 40)) as pilot:
        sink = app._sink

        def recording_sink(event: ev.Event) -> None:
            if isinstance(event, ev.StepCompleted):
                steps.append(event)
            sink(event)

        app._sink = recording_sink  # type: ignore[method-assign]
        display = app._display

        def timed_display(screen, renderable) -> None:
            display(screen, renderable)
            if renderable is not None and pending and isinstance(screen, InspectScreen):
                cursor = screen.states["surprise"].cursor
                if cursor in pending:
                    latencies.append(time.perf_counter() - pending.pop(cursor))

        app._display = timed_display  # type: ignore[method-assign]
        await pilot.press("i", "s")  # Inspect first; s reaches the app beneath it
        direction = 1
        while app.terminal_event is None:
            await asyncio.sleep(0.25)
            screen = app.screen
            ready = isinstance(screen, InspectScreen) and "surprise" in screen.results
            if not press_keys or not ready or app.session.stats.state != "running" or pending:
                continue
            state, result = screen.states["surprise"], screen.results["surprise"]
            current = state.cursor if state.cursor >= 0 else screen.view.default_cursor(result)
            size = len(result.pieces)
            if not 0 <= current + direction < size:
                direction = -direction
            pending[current + direction] = time.perf_counter()
            app._driver.send_message(events.Key("right" if direction > 0 else "left", None))
    return throughput(steps, config), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--corpus", default="data/shakespeare.txt")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads")
    parser.add_argument("--inspect", action="store_true", help="also with Inspect open")
    args = parser.parse_args()
    # num_threads 1: on a small shared CPU, PyTorch's default thread pool in the main thread
    # (headless) and in a worker thread (dashboard) differ, which would compare thread pools,
    # not the dashboard. Evaluations are off so both sides time the same optimizer steps.
    config = RunConfig(
        data_file=args.corpus,
        max_steps=args.steps,
        eval_interval=10**9,
        sample_length=0,
        device="cpu",
        dtype="float32",
        num_threads=args.threads,
    )
    print(
        f"config: lstm emb {config.embedding_dim} hidden {config.hidden_dim}, batch "
        f"{config.batch_size} x seq {config.seq_length}, {args.steps} steps, cpu"
    )
    headless, dashboard, latencies = [], [], []
    inspect_rates: list[float] = []
    cursor_latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            headless.append(run_headless(config, Path(tmp) / f"h{round_}"))
            tokens_per_s, _ = asyncio.run(run_dashboard(config, Path(tmp) / f"d{round_}", False))
            dashboard.append(tokens_per_s)
            # Latency in its own run: a key every 0.25 s is far more than a user watching
            # training presses, so it would understate the throughput a user gets.
            loaded, lat = asyncio.run(run_dashboard(config, Path(tmp) / f"k{round_}", True))
            latencies += lat
            print(
                f"round {round_ + 1}: headless {headless[-1]:,.0f} tok/s, dashboard "
                f"{dashboard[-1]:,.0f} tok/s ({loaded:,.0f} while pressing {len(lat)} keys)"
            )
            if args.inspect:
                rate, _ = asyncio.run(run_inspect(config, Path(tmp) / f"i{round_}", False))
                inspect_rates.append(rate)
                moving, lat = asyncio.run(run_inspect(config, Path(tmp) / f"j{round_}", True))
                cursor_latencies += lat
                print(
                    f"round {round_ + 1}: inspect open {rate:,.0f} tok/s "
                    f"({moving:,.0f} while moving the cursor {len(lat)} times)"
                )
    # Rounds alternate, so each round's ratio compares runs under similar background load;
    # the median of those ratios resists a noisy neighbour better than a ratio of means.
    ratio = statistics.median(d / h for d, h in zip(dashboard, headless, strict=True))
    ms = sorted(1000 * x for x in latencies)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))] if ms else float("nan")
    print(f"headless  tokens/s: {statistics.mean(headless):,.0f}")
    print(
        f"dashboard tokens/s: {statistics.mean(dashboard):,.0f} "
        f"(median round: {ratio:.1%} of headless; target >= 95%)"
    )
    print(
        f"key-to-screen latency under training: median {statistics.median(ms):.1f} ms, "
        f"p95 {p95:.1f} ms over {len(ms)} presses (target p95 < 100 ms)"
    )
    if inspect_rates:
        ratio = statistics.median(i / h for i, h in zip(inspect_rates, headless, strict=True))
        ms = sorted(1000 * x for x in cursor_latencies)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))] if ms else float("nan")
        print(
            f"inspect open tokens/s: {statistics.mean(inspect_rates):,.0f} "
            f"(median round: {ratio:.1%} of headless; target >= 95%)"
        )
        print(
            f"inspect cursor latency under training: median "
            f"{statistics.median(ms) if ms else float('nan'):.1f} ms, p95 {p95:.1f} ms over "
            f"{len(ms)} moves (target p95 < 100 ms)"
        )


if __name__ == "__main__":
    main()
