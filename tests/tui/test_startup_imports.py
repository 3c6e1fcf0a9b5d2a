"""The dashboard draws its first frame before torch is imported, and its first frame waits
for every module imported before it: the ``llmv0-tui`` entry (tui.cli_dashboard), tui.launch,
tui.app and every widget must not import torch, nor the ``llmv0`` commands' modules, nor the
screens opened later (their DataTable alone costs ~70 ms)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LATER = (
    "torch",
    "numpy",
    "tui.cli",
    "tui.cli_train",
    "tui.cli_sweep",
    "tui.cli_experiments",
    "tui.screens.run_browser",
    "tui.screens.sweeps",
    "textual.widgets._data_table",
)

SCRIPT = f"""
import sys
import tui.cli_dashboard, tui.launch, tui.app
from tui.launch import make_app
make_app()
heavy = sorted(m for m in {LATER!r} if m in sys.modules)
print(",".join(heavy) or "none")
"""


def test_dashboard_modules_do_not_import_torch_or_later_screens() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none", "imported before the first frame: " + result.stdout
