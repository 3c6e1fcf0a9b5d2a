"""Optional features and the extra that installs each: one clear line when one is missing.

The default install leaves out what only one command needs: matplotlib (``plot --png``, the
chart in ``report``) and textual-serve (``llmv0-tui --serve``).
"""

from __future__ import annotations

import importlib.util

from engine.errors import UserError


class MissingExtraError(UserError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` unless ``module`` can be imported.

    Args:
        module: the top-level module the feature imports (``matplotlib``).
        extra: the llmv0 extra that installs it (``png``).
        feature: what the user asked for, as they typed it (``llmv0 plot --png``).
    """
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(
            f"{feature} needs {module}, which is not installed: pip install 'llmv0[{extra}]'"
        )


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None
