"""What a model knows, measured from its weights: surprise, attention, cells, embeddings.

Each module takes a model (and a tokenizer) and returns plain dataclasses of floats and
strings; nothing here trains, imports a trainer or renders. The dashboard's Inspect screen
and ``llmv0 inspect`` draw the results.
"""

from engine.errors import UserError


class AnalysisError(UserError, ValueError):
    """A view that cannot be drawn for this model or text (the message says why)."""
