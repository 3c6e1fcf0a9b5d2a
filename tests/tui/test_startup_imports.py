"""The dashboard draws its first frame before torch is imported: the modules its first frame
needs (tui.cli's entry point, tui.launch, tui.app and every widget) must not import torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import tui.cli, tui.launch, tui.app
from tui.launch import make_app
make_app()
heavy = sorted(m for m in ("torch", "numpy") if m in sys.modules)
print(",".join(heavy) or "none")
"""


def test_dashboard_modules_do_not_import_torch() -> None:
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
