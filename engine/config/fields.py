"""How the config schema's fields are declared, described and reported, independent of
which fields RunConfig has: editor groups, field metadata, range phrases, ConfigError."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.errors import UserError

if TYPE_CHECKING:  # pydantic loads with RunConfig, not with ConfigError (engine.config.table)
    from pydantic.fields import FieldInfo


class ConfigError(UserError, ValueError):
    """A config that failed validation. ``problems`` maps each field name to what is wrong."""

    def __init__(self, problems: dict[str, str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        lines = [f"  {name}: {why}" for name, why in problems.items()]
        count = len(problems)
        noun = "field" if count == 1 else "fields"
        super().__init__(
            f"The {source} has {count} invalid {noun}:\n"
            + "\n".join(lines)
            + "\nFix the values above (see `llmv0 config --help` or docs/config.md)."
        )


# The editor's groups, in the order it shows them. Each field carries its group as schema
# metadata beside ``live``; ``schema_field`` stamps the group of the section RunConfig's body is in
# (``start_group(...)`` in engine.config.schema), so a field added to a section
# joins that section's group.
FIELD_GROUPS = (
    "data",
    "model",
    "optimiser and schedule",
    "evaluation and checkpoints",
    "sampling",
    "hardware",
)
_current_group = [FIELD_GROUPS[0]]


def start_group(name: str) -> None:
    """Fields defined after this call belong to group ``name`` (one of FIELD_GROUPS)."""
    if name not in FIELD_GROUPS:
        raise ValueError(f"unknown field group {name!r}; one of {FIELD_GROUPS}")
    _current_group[0] = name


def schema_field(
    default: Any, description: str, *, live: bool = False, fixed: bool = False, **kwargs: Any
) -> Any:
    """A schema field. ``live``: may change while the run goes. ``fixed``: fixes the model,
    the data or their order, so a resumed run must keep it. The editor group is stamped."""
    from pydantic import Field

    extra = {"live": live, "fixed": fixed, "group": _current_group[0]}
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


def range_phrase(info: FieldInfo) -> str:
    """The allowed values of a field, as a short human phrase (for errors and the editor)."""
    ann = info.annotation
    choices = getattr(ann, "__args__", None)
    if choices and all(isinstance(c, str) for c in choices):
        return "one of " + ", ".join(repr(c) for c in choices)
    lo = hi = None
    lo_incl = hi_incl = True
    for meta in info.metadata:
        if getattr(meta, "ge", None) is not None:
            lo = meta.ge
        if getattr(meta, "gt", None) is not None:
            lo, lo_incl = meta.gt, False
        if getattr(meta, "le", None) is not None:
            hi = meta.le
        if getattr(meta, "lt", None) is not None:
            hi, hi_incl = meta.lt, False
        if getattr(meta, "min_length", None) is not None:
            return "a non-empty string"
    if ann is bool:
        return "true or false"
    if ann is str:
        return "any text"
    kind = "an integer" if ann is int else "a number"
    if lo is not None and hi is not None:
        return f"{kind} in {'[' if lo_incl else '('}{lo}, {hi}{']' if hi_incl else ')'}"
    if lo is not None:
        return f"{kind} {'>=' if lo_incl else '>'} {lo}"
    if hi is not None:
        return f"{kind} {'<=' if hi_incl else '<'} {hi}"
    return kind


def describe_error(err: dict[str, Any], fields: Mapping[str, FieldInfo]) -> tuple[str, str]:
    """One pydantic validation error as (field name, what is wrong and what is allowed)."""
    loc = ".".join(str(p) for p in err.get("loc", ())) or "config"
    if not loc.isprintable():  # a name typed with line breaks or escapes: shown quoted, so
        loc = repr(loc)  # the message stays one paragraph and the terminal takes no control codes
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "extra_forbidden":
        return loc, "unknown field (check the spelling; `llmv0 config` lists every field)"
    if kind == "literal_error":
        return loc, f"must be one of {ctx.get('expected')}; got {got!r}"
    if kind == "value_error" and loc == "config":
        # A cross-field problem: report it under the field it names.
        msg = str(ctx.get("error", err.get("msg", "")))
        name, _, why = msg.partition(": ")
        return name, why
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        field = fields.get(loc)
        return loc, f"must be {range_phrase(field) if field else err['msg']}; got {got!r}"
    # Wrong type (text for a number, a list for a string...): also say what is allowed.
    allowed = f"; allowed: {range_phrase(fields[loc])}" if loc in fields else ""
    return loc, f"{err.get('msg', 'invalid')}; got {got!r}{allowed}"
