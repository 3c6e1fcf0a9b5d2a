"""Folders are the layers: the package roots stay small and no module repeats its folder's name.

The layout is docs/architecture.md's; its import rules are pyproject.toml's import-linter
contracts (tests/engine/test_import_layers.py runs them).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE_ROOT = {
    "__init__.py",
    "errors.py",
    "events.py",
    "control.py",
    "safe_files.py",
    "safe_write.py",
}
TUI_ROOT = {"__init__.py", "__main__.py"}


def _python_files(folder: Path) -> set[str]:
    return {path.name for path in folder.glob("*.py")}


def test_the_engine_root_holds_only_the_contracts() -> None:
    assert _python_files(ROOT / "engine") <= ENGINE_ROOT


def test_the_tui_root_holds_only_the_entry() -> None:
    assert _python_files(ROOT / "tui") <= TUI_ROOT


def test_no_module_repeats_its_folder_name_as_a_prefix() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for top in ("engine", "tui")
        for path in (ROOT / top).rglob("*.py")
        if path.stem.startswith(f"{path.parent.name}_")
    ]
    assert offenders == []


def test_every_package_folder_has_an_init_without_imports() -> None:
    # Empty (or lazy) __init__ files: importing a folder must not load its modules, or the
    # dashboard's first frame would wait for torch and pydantic.
    for top in ("engine", "tui"):
        for folder in (ROOT / top).rglob("*"):
            if not folder.is_dir() or folder.name == "__pycache__" or not any(folder.glob("*.py")):
                continue
            init = folder / "__init__.py"
            assert init.is_file(), f"{folder.relative_to(ROOT)} has no __init__.py"
            if folder.relative_to(ROOT).as_posix() in {"engine/models", "engine/analysis"}:
                continue  # the model protocol and factory; AnalysisError (both load torch anyway)
            code = [
                line
                for line in init.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith(("#", '"""', "'''"))
            ]
            assert not any(line.startswith(("import ", "from ")) for line in code), init
