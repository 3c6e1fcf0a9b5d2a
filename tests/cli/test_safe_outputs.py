"""Every command that writes a file at a user's path refuses a folder, a FIFO or a symlink
with one paragraph and exit 2, and leaves what was there as it was (engine/safe_write.py).

Before the safe writer: ``config --save DIR`` and ``export -o DIR`` ended in a traceback,
``report --out DIR`` wrote ``DIR-loss.png`` beside the folder and then a traceback, and
``plot --png DIR`` wrote ``DIR.png`` beside it; ``config --save FIFO`` replaced the FIFO.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from test_experiments import write_run
from typer.testing import CliRunner

from tui.cli.main import app

runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def run(runs_dir: Path) -> Path:
    return write_run(runs_dir, "run-a", {}, [2.5, 2.2, 2.0, 1.8])


def refused(args: list[str], what: str, reason: str) -> None:
    """The command exits 2 with 'Cannot write WHAT: REASON' as one paragraph, no traceback."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    message = flat(result.stderr)
    assert message.startswith(f"Error: Cannot write {what}: {reason}"), message
    assert "Traceback" not in result.output


FOLDER = "it is a folder; give the path of a file (inside it or elsewhere)."


def test_config_save_refuses_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    refused(["config", "--save", str(folder)], f"--save {folder}", FOLDER)
    assert list(folder.iterdir()) == [] and sorted(os.listdir(tmp_path)) == ["configs"]


def test_config_save_leaves_a_fifo_and_a_symlink_alone(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    refused(["config", "--save", str(fifo)], f"--save {fifo}", "it is a named pipe (FIFO)")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    outside = tmp_path / "outside.json"
    outside.write_text("keep", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(outside)
    refused(["config", "--save", str(link)], f"--save {link}", "it is a symbolic link")
    assert outside.read_text(encoding="utf-8") == "keep" and link.is_symlink()


def test_config_save_replaces_a_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "my.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o600)
    result = runner.invoke(app, ["config", "--set", "dropout=0.1", "--save", str(target)])
    assert result.exit_code == 0, result.output
    assert '"dropout": 0.1' in target.read_text(encoding="utf-8")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["my.json"]


def test_export_refuses_a_folder(run: Path, runs_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    args = ["export", "run-a", "-f", "csv", "-o", str(folder), "--runs-dir", str(runs_dir)]
    refused(args, f"--output {folder}", FOLDER)
    assert list(folder.iterdir()) == []


def test_export_writes_through_the_safe_writer(run: Path, runs_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    args = ["export", "run-a", "-f", "csv", "-o", str(target), "--runs-dir", str(runs_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").splitlines()[0].startswith("step,")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_report_refuses_a_folder_and_writes_nothing_beside_it(
    run: Path, runs_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    refused(["report", "run-a", "--out", str(folder), "--runs-dir", str(runs_dir)],
            f"--out {folder}", FOLDER)  # fmt: skip
    assert list(folder.iterdir()) == [] and sorted(os.listdir(tmp_path)) == ["reports", "runs"]


def test_plot_png_refuses_a_folder_and_writes_nothing_beside_it(
    run: Path, runs_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    folder = tmp_path / "plots"
    folder.mkdir()
    refused(["plot", "run-a", "--png", str(folder), "--runs-dir", str(runs_dir)],
            f"--png {folder}", FOLDER)  # fmt: skip
    assert list(folder.iterdir()) == [] and sorted(os.listdir(tmp_path)) == ["plots", "runs"]


def test_plot_png_writes_the_path_given(run: Path, runs_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "curves.png"
    result = runner.invoke(app, ["plot", "run-a", "--png", str(target), "--runs-dir",
                                 str(runs_dir)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "runs"]


def test_inspect_html_refuses_a_symlink(tmp_path: Path) -> None:
    from rich.text import Text

    from engine.analysis import AnalysisError
    from tui.cli.inspect_html import write_html

    outside = tmp_path / "index.html"
    outside.write_text("the site's page", encoding="utf-8")
    link = tmp_path / "view.html"
    link.symlink_to(outside)
    with pytest.raises(AnalysisError, match=r"^Cannot write --html .*view\.html: it is a symb"):
        write_html(link, "t", [Text("ROMEO")])
    assert outside.read_text(encoding="utf-8") == "the site's page"
    page = tmp_path / "page.html"
    write_html(page, "t", [Text("ROMEO")])
    assert "ROMEO" in page.read_text(encoding="utf-8")
