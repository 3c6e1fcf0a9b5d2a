"""The one base of every error a user can cause and fix (bad config, missing run, ...).

Front ends catch :class:`UserError` in one place each and show its text as one paragraph
(the CLI exits 2); anything else is a bug and keeps its traceback. Subclasses also derive
from the built-in type they replace (``ValueError``, ``RuntimeError``) so older callers that
catch those still work.
"""

from __future__ import annotations


class UserError(Exception):
    """An error whose message tells the user what to change; never a program bug."""
