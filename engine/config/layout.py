"""How the config editor lays out RunConfig: each field's group, and which fields apply.

The group is schema metadata stamped on each field in engine/config/schema.py (beside ``live``);
this module reads it from engine.config.table (no pydantic needed), and says which fields
have no effect given other fields' values (an LSTM's sizes for a GPT, the BPE vocabulary for
the char tokenizer), so a front end can hide them. Hidden fields stay part of the config:
they are validated and saved as usual.
"""

from __future__ import annotations

from typing import Any

from engine.config.table import BY_NAME


def field_group(name: str) -> str:
    """The editor group of field ``name`` (one of engine.config.fields.FIELD_GROUPS)."""
    return BY_NAME[name].group


# Fields that only matter for some values of another field: field -> (that field, values).
# The editor hides the others (an LSTM's sizes mean nothing to a GPT); they stay valid config.
APPLIES_WHEN: dict[str, tuple[str, tuple[str, ...]]] = {
    "bpe_vocab_size": ("tokenizer", ("bpe",)),
    **{name: ("model", ("lstm",)) for name in ("embedding_dim", "hidden_dim", "num_layers")},
    **{
        name: ("model", ("gpt",))
        for name in ("n_layer", "n_head", "n_embd", "position_encoding", "activation")
    },
    "min_lr_ratio": ("lr_schedule", ("cosine", "wsd")),
    "decay_fraction": ("lr_schedule", ("wsd",)),
    "lr_step_size": ("lr_schedule", ("step",)),
    "lr_gamma": ("lr_schedule", ("step",)),
}


def field_applies(name: str, values: dict[str, Any]) -> bool:
    """Whether field ``name`` has any effect given the other fields' ``values``."""
    rule = APPLIES_WHEN.get(name)
    return rule is None or str(values.get(rule[0])) in rule[1]
