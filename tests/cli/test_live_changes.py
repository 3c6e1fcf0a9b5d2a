"""Live changes are part of a run's record: report, runs list, run browser and plot show them."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.axes import Axes
from typer.testing import CliRunner

from engine.control import Control
from engine.events import Event, StepCompleted
from engine.train.trainer import Trainer
from tui.cli.main import app
from tui.dashboard.run_rows import read_rows
from tui.shared import cli_options as cli_common

runner = CliRunner()


@pytest.fixture
def changed_run(make_config, runs_dir: Path) -> Path:
    """A run whose learning rate was changed live at step 3."""
    control = Control()

    def change_at_three(event: Event) -> None:
        if isinstance(event, StepCompleted) and event.step == 3:
            control.set("learning_rate", 0.0005)

    cfg = make_config(max_steps=8, eval_interval=4, learning_rate=0.01)
    Trainer(cfg, runs_dir=runs_dir, run_id="live").run(change_at_three, control)
    return runs_dir / "live"


def flat(text: str) -> str:
    return " ".join(text.split())


def test_report_lists_the_live_change(changed_run: Path, runs_dir: Path) -> None:
    result = runner.invoke(app, ["report", "live", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    report = (changed_run / "report.md").read_text(encoding="utf-8")
    assert "## Live changes during the run" in report
    assert "| 3 | `learning_rate` | `0.01` | `0.0005` |" in report


def test_runs_list_and_browser_show_the_live_change(
    changed_run: Path, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Wide enough for the whole cell. Not through COLUMNS: a rich console made while COLUMNS
    # is set keeps that width (this one is made on import, by whichever test comes first).
    monkeypatch.setattr(cli_common.out, "_width", 200)
    result = runner.invoke(app, ["runs", "--runs-dir", str(runs_dir)])
    assert "learning_rate 0.01 → 0.0005 @3" in flat(result.output)
    [row] = read_rows(runs_dir)
    assert "lr 0.0005" in row.detail, "the browser shows the lr the run has now"


def test_png_plot_marks_the_live_change(
    changed_run: Path, runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[tuple[float, str]] = []
    real = Axes.axvline

    def spy(self: Axes, x: float = 0, *args: object, **kwargs: object) -> object:
        lines.append((x, str(kwargs.get("label", ""))))
        return real(self, x, *args, **kwargs)

    monkeypatch.setattr(Axes, "axvline", spy)
    png = tmp_path / "p.png"
    result = runner.invoke(app, ["plot", "live", "--png", str(png), "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert png.is_file()
    assert (3, "learning_rate 0.01 → 0.0005 @3") in lines
