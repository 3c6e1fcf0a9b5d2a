"""Loss and perplexity curves of a run: in the terminal with plotext, or as a PNG file."""

from __future__ import annotations

from pathlib import Path

from engine.run.summary import Curves
from engine.safe_write import write_file
from tui.shared.formatting import format_change, smooth


def terminal_plot(curves: Curves, title: str, width: int | None = None, colour: bool = True) -> str:
    """Two stacked plotext charts (loss; perplexity); ANSI colours only when ``colour``."""
    import plotext as plt

    from tui.shared.overlay_plot import int_ticks

    # plotext's clear_figure clears only the active subplot: select the whole figure first,
    # or the previous call's subplots survive and a second chart in one process can crash.
    plt.main()
    plt.clear_figure()
    plt.theme("clear")  # the terminal's own background, readable on dark and light
    plt.subplots(2, 1)
    if width:
        plt.plot_size(width, 40)
    window = max(1, len(curves.train_loss) // 200)
    plt.subplot(1, 1)
    plt.title(f"{title}: loss (nats/char)")
    if curves.train_steps:
        plt.plot(
            curves.train_steps,
            smooth(curves.train_loss, window),
            label="train",
            color="cyan",
            marker="braille",
        )
    if curves.val_steps:
        plt.plot(
            curves.val_steps, curves.val_loss, label="validation", color="orange", marker="braille"
        )
    for step in curves.epoch_steps:
        plt.vline(step, "gray")
    for change in curves.changes:  # live changes: where the run's config changed
        plt.vline(change.step, "red")
    steps = curves.train_steps + curves.val_steps
    ticks = int_ticks(min(steps), max(steps)) if steps else []
    plt.xticks(ticks, [str(t) for t in ticks])  # steps are whole numbers, never 12.5
    plt.xlabel("step")
    plt.subplot(2, 1)
    plt.title("validation perplexity")
    if curves.val_steps:
        plt.plot(curves.val_steps, curves.perplexity, color="green", marker="braille")
    plt.xticks(ticks, [str(t) for t in ticks])
    plt.xlabel("step")
    text = plt.build()
    return text if colour else plt.uncolorize(text)


def png_plot(curves: Curves, title: str, path: Path, *, label: str = "") -> None:
    """Write the same two charts to a PNG file with matplotlib (no display needed).

    Raises:
        MissingExtraError: matplotlib is not installed (the ``png`` extra).
    """
    from tui.shared.extras import require

    require("matplotlib", "png", "llmv0 plot --png")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    fig, (ax_loss, ax_ppl) = pyplot.subplots(2, 1, figsize=(9, 7), sharex=True)
    try:
        window = max(1, len(curves.train_loss) // 200)
        if curves.train_steps:
            ax_loss.plot(
                curves.train_steps,
                curves.train_loss,
                color="#9ecae1",
                lw=0.6,
                label="train (per step)",
            )
            ax_loss.plot(
                curves.train_steps,
                smooth(curves.train_loss, window),
                color="#3182bd",
                label="train (smoothed)",
            )
        if curves.val_steps:
            ax_loss.plot(
                curves.val_steps, curves.val_loss, "o-", color="#e6550d", ms=3, label="validation"
            )
            ax_ppl.plot(curves.val_steps, curves.perplexity, "o-", color="#31a354", ms=3)
        for step in curves.epoch_steps:
            ax_loss.axvline(step, color="0.85", lw=0.8)
            ax_ppl.axvline(step, color="0.85", lw=0.8)
        for change in curves.changes:  # live changes, labelled, so the curve's bends read
            label = format_change(change.name, change.old, change.new, change.step)
            ax_loss.axvline(change.step, color="#d62728", ls="--", lw=0.9, label=label)
            ax_ppl.axvline(change.step, color="#d62728", ls="--", lw=0.9)
        ax_loss.set_title(f"{title}: loss")
        ax_loss.set_ylabel("nats / char")
        ax_loss.legend()
        ax_ppl.set_ylabel("validation perplexity")
        ax_ppl.set_xlabel("step (grey lines: epochs; red dashes: live changes)")
        fig.tight_layout()
        # The safe writer: exactly this path (no .png added), never through a special file.
        write_file(path, lambda fh: fig.savefig(fh, format="png", dpi=110), label=label)
    finally:
        pyplot.close(fig)
