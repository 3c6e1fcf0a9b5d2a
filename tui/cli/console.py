"""Rich rendering of a training run for the headless CLI: a sink that draws live progress."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table
from rich.text import Text

from engine.events import (
    CheckpointSaved,
    ConfigChanged,
    EpochCompleted,
    EvalCompleted,
    Event,
    RunFailed,
    RunFinished,
    RunNotice,
    RunPaused,
    RunResumed,
    RunStarted,
    RunWarning,
    SampleGenerated,
    StepCompleted,
)
from tui.shared.formatting import format_duration, format_metric


class TrainingDisplay:
    """A sink: a progress bar with step, epoch, loss, val loss, perplexity, tokens/s and ETA.

    Milestones (evaluations, samples, checkpoints, warnings) print above the live bar, so the
    terminal keeps a readable record after the run.
    """

    def __init__(self, console: Console, show_samples: bool = True) -> None:
        self.console = console
        self.show_samples = show_samples
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("train", total=1)
        self.stats = Text("starting...", no_wrap=False)
        self.live = Live(Group(self.progress, self.stats), console=console, refresh_per_second=8)
        self.val: dict[str, Any] = {}
        self.start_step = 0
        self.steps_per_epoch = 1
        self._last_draw = 0.0
        self._last_step: StepCompleted | None = None  # what the status line shows
        self._finished = False

    def __enter__(self) -> TrainingDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)  # type: ignore[arg-type]

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def _on_RunStarted(self, e: RunStarted) -> None:
        self.start_step = e.start_step
        self.steps_per_epoch = e.steps_per_epoch
        self.progress.update(self.task, total=e.total_steps, completed=e.start_step)
        verb = "Resuming" if e.resumed else "Training"
        budget = e.config.get("time_budget_s") or 0
        length = f"{e.total_steps:,} steps"
        if budget:
            length = f"time budget {format_duration(budget)} (final evaluation included)"
        self.console.print(
            f"[bold]{verb}[/] run [cyan]{escape(e.run_id)}[/]: {e.config['model']} with "
            f"{e.n_params:,} parameters on {e.device} ({e.dtype}); {length}, "
            f"{e.steps_per_epoch:,} per epoch; vocabulary {e.vocab_size}; "
            f"{e.train_tokens:,} train / {e.val_tokens:,} val characters."
        )
        for note in e.notes:
            self.console.print(f"  [dim]{escape(note)}[/]")
        self.console.print(f"  [dim]run folder: {escape(str(e.run_dir))}[/]")

    def _on_StepCompleted(self, e: StepCompleted) -> None:
        now = time.monotonic()
        if now - self._last_draw < 0.1 and e.step < e.total_steps:
            return
        self._last_draw = now
        self._draw(e)

    def _draw(self, e: StepCompleted) -> None:
        """The status line for step ``e``, with the latest evaluation."""
        self._last_step = e
        eta = e.eta_s if e.eta_s is not None else float("nan")  # pauses and compile excluded
        if self._finished:
            eta = 0.0
        total = f"{e.total_steps:,}" if e.progress is None else f"~{e.total_steps:,}"
        parts = [
            f"step {e.step:,}/{total}",
            f"epoch {e.epoch + 1}",
            f"loss {e.loss:.4f}",
        ]
        if self.val:
            parts += [f"val {self.val['loss']:.4f}", f"ppl {self.val['ppl']:.2f}"]
        parts += [
            f"{e.tokens_per_s:,.0f} tok/s" if e.tokens_per_s else "— tok/s",
            f"lr {e.lr:.2e}",
            f"ETA {format_duration(eta)}",
        ]
        if e.progress is not None:  # a time budget: the bar is the share of it used
            self.progress.update(self.task, total=1.0, completed=e.progress)
        else:
            self.progress.update(self.task, completed=e.step)
        self.stats.plain = "  ".join(parts)

    def _on_EvalCompleted(self, e: EvalCompleted) -> None:
        self.val = {"loss": e.val_loss, "ppl": e.perplexity}
        if self._last_step is not None:
            # The final evaluation comes after the last step: the line left on screen at the
            # end showed the evaluation before it (a gpt-30min run: val 1.5492, not 1.4121).
            self._draw(self._last_step)
        mark = " [green]best[/]" if e.is_best else ""
        self.console.print(
            f"step {e.step:>7,}  train {e.train_loss:.4f}  val {e.val_loss:.4f}  "
            f"ppl {format_metric(e.perplexity, 2)}  bpc {e.bits_per_char:.3f}{mark}"
        )

    def _on_EpochCompleted(self, e: EpochCompleted) -> None:
        self.console.print(
            f"[dim]epoch {e.epoch} done at step {e.step:,}: mean loss {e.mean_loss:.4f}[/]"
        )

    def _on_SampleGenerated(self, e: SampleGenerated) -> None:
        if self.show_samples:
            text = Text(e.prompt, style="bold") + Text(e.text)
            self.console.print(text, style="dim", highlight=False, markup=False)

    def _on_CheckpointSaved(self, e: CheckpointSaved) -> None:
        if e.kind != "latest":
            return
        self.console.print(f"[dim]saved {escape(e.path)} (step {e.step:,})[/]")

    def _on_ConfigChanged(self, e: ConfigChanged) -> None:
        change = escape(f"{e.name}: {e.old} -> {e.new}")
        self.console.print(f"[yellow]{change} at step {e.step}[/]")

    def _on_RunPaused(self, e: RunPaused) -> None:
        self.console.print(f"[yellow]paused at step {e.step}[/]")

    def _on_RunResumed(self, e: RunResumed) -> None:
        self.console.print(f"[yellow]resumed at step {e.step}[/]")

    def _on_RunNotice(self, e: RunNotice) -> None:
        if e.kind == "compiling":
            self.stats.plain = "compiling..."
        self.console.print(f"  [dim]{escape(e.message)}[/]", highlight=False)

    def _on_RunWarning(self, e: RunWarning) -> None:
        self.console.print(f"[yellow]warning:[/] {escape(e.message)}", markup=True, highlight=False)

    def _on_RunFinished(self, e: RunFinished) -> None:
        self._finished = True
        if self._last_step is not None:
            self._draw(self._last_step)  # ETA 0s, not the final evaluation's estimate
        best = f"{e.best_val_loss:.4f}" if e.best_val_loss != float("inf") else "- (no evaluation)"
        self.console.print(
            f"[bold green]Finished[/] ({e.reason}) at step {e.step:,} in "
            f"{format_duration(e.elapsed_s)}; best validation loss {best}."
        )

    def _on_RunFailed(self, e: RunFailed) -> None:
        self.console.print(
            f"[bold red]Run failed[/] at step {e.step:,}: {escape(e.error)}", highlight=False
        )


def metrics_table(title: str, rows: list[tuple[str, str]]) -> Group:
    """A title line over a two-column table of metric names and values.

    The title is plain text on its own line, not the table's title: it names a run as typed,
    and a table's title wraps to the table's width, which split a long run id mid-word.
    """
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows:
        table.add_row(name, value)
    return Group(Text(title, style="table.title"), table)
