"""The model the generation pane samples from: live weights or a loaded checkpoint, named."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # torch loads when a model is first needed, not when the dashboard starts
    from engine.models import LanguageModel
    from engine.text.tokenizer import Tokenizer


class GenerationModel(NamedTuple):
    """A model ready to generate (eval mode), its tokenizer, and what to call it on screen
    ("live weights (step 120)", "checkpoint RUN"); unpacks as ``model, tokenizer, name``."""

    model: LanguageModel
    tokenizer: Tokenizer
    name: str


ModelSource = Callable[[], "GenerationModel | None"]
"""Called from a generation worker: the model to use now, or None before there is one."""
