"""The engine is a UI-free library: no UI imports at runtime, no printing."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import engine

ENGINE_DIR = Path(engine.__file__).parent
UI_MODULES = ("textual", "rich", "typer", "plotext", "textual_plotext", "tui")


def engine_modules() -> list[str]:
    names = []
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        rel = path.relative_to(ENGINE_DIR.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def test_engine_modules_are_found() -> None:
    names = engine_modules()
    for expected in (
        "engine.train.trainer",
        "engine.generate.sampling",
        "engine.models.lstm",
        "engine.run.summary",
    ):
        assert expected in names


def test_importing_the_whole_engine_loads_no_ui_library() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {engine_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {list(UI_MODULES)!r} if m in sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_engine_never_calls_print() -> None:
    offenders = []
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"print", "breakpoint", "input"}
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
