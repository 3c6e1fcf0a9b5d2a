"""Reading what the run browser chose: a run to open, loss curves to overlay (no Textual).

These run in thread workers (the main screen starts them) and return the message it handles,
so the UI never waits on the disk or on torch. An opened run is shown, never written: s then
trains a new run with its config; resuming is the browser's r.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tui.dashboard.messages import OverlayLoaded, RunOpened
from tui.dashboard.model_source import GenerationModel
from tui.dashboard.trainer_factory import read_history
from tui.dashboard.widgets.charts.loss_chart import OverlaySeries, bucket_means
from tui.shared.formatting import smooth

if TYPE_CHECKING:
    from engine.config.schema import RunConfig
    from engine.run.summary import Curves


def saved_config(folder: Path) -> RunConfig | None:
    """The config a run has now (its saved config with its live changes), or None when
    unreadable."""
    from engine.run.folder import RunFolder

    return RunFolder(folder).effective_config()


def overlay_series(label: str, curves: Curves) -> OverlaySeries:
    """Validation loss per evaluation; a run with no evaluation shows its smoothed train loss."""
    if curves.val_steps:
        return OverlaySeries(label, list(curves.val_steps), list(curves.val_loss))
    window = max(1, len(curves.train_loss) // 100)
    steps, losses = bucket_means(curves.train_steps, smooth(curves.train_loss, window))
    return OverlaySeries(f"{label} (train)", steps, losses)


def read_run(folder: Path, runs_dir: Path) -> RunOpened:
    """A run's history, state, config and checkpoint (None, with a note, when unloadable)."""
    from engine.run.checkpoint import CheckpointError
    from engine.run.folder import load_for_inference
    from engine.run.summary import summarise

    try:
        history = read_history(str(folder), runs_dir)
        state = summarise(history, folder).state
    except Exception as exc:  # unreadable log: say so, keep the UI
        return RunOpened(folder, [], None, None, f"Cannot read {folder}: {exc}")
    try:
        model, tokenizer, config = load_for_inference(folder)
        loaded = GenerationModel(model, tokenizer, f"checkpoint {folder.name}")
        return RunOpened(folder, history, loaded, config, state=state)
    except (CheckpointError, OSError) as exc:
        note = f"{exc} Its charts are shown; generation needs a checkpoint."
        return RunOpened(folder, history, None, saved_config(folder), note, state)


def read_overlay(folders: list[Path]) -> OverlayLoaded:
    """The loss curves of ``folders``; an unreadable run is left out, the others compare."""
    from engine.run.summary import curves, load_history

    series = []
    for folder in folders:
        try:
            series.append(overlay_series(folder.name, curves(load_history(folder))))
        except Exception:  # an unreadable run is left out; the others still compare
            continue
    return OverlayLoaded(series)
