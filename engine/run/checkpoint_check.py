"""What a sound checkpoint holds: each entry with its type, sane ranges, and weights and
optimizer state of the shapes the config's model has.

A checkpoint is user input: a file can be truncated, edited or crafted. These checks run
before anything uses a payload, so a bad one is refused naming the field (raised here as
:class:`BadField`; engine.run.checkpoint words it with the file's path) instead of failing
as a KeyError or a shape error deep inside torch.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

MAX_STEP = 10**12  # a step count beyond this is no real run's (1e8 is max_steps' top)
# What every checkpoint holds, and the type each entry must have; optional entries may be
# missing (older files) or None where the type allows it.
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "step": int,
    "config": dict,
    "tokenizer": dict,
    "model": dict,
    "rng_cpu": torch.Tensor,
    "best_val_loss": (int, float),
    "evals_since_best": int,
}
OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "run_id": str,
    "optimizer": (dict, type(None)),
    "scaler": (dict, type(None)),
    "rng_cuda": (list, tuple),
    "torch_version": str,
    "timing": dict,
    "threads": dict,
    "compiled": (bool, type(None)),
    "started_config": dict,
}


class BadField(ValueError):
    """A payload entry that is missing, of the wrong type or out of range."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"its field '{field}' {problem}")
        self.field = field
        self.problem = problem


def same(value: Any, expected: str | int) -> bool:
    """``value == expected`` for any value (a tensor's == is no truth value)."""
    return type(value) is type(expected) and value == expected


def shown(value: Any) -> str:
    """A value for a one-line message: tensors by shape, long text cut."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 60 else f"{text[:57]}..."


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {"dict": "a mapping", "Tensor": "a tensor", "NoneType": "None", "str": "text"}
    return " or ".join(names.get(k.__name__, f"a {k.__name__}") for k in kinds)


def _has_type(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False  # True is an int to Python, never a step count
    return isinstance(value, kinds)


def check_structure(payload: dict[str, Any]) -> None:
    """Every entry present with its type and a sane value; the config's values plain.

    Raises:
        BadField: the first entry that is not.
    """
    for name, kind in (*REQUIRED.items(), *OPTIONAL.items()):
        if name not in payload:
            if name in REQUIRED:
                raise BadField(name, "is missing")
            continue
        if not _has_type(payload[name], kind):
            raise BadField(name, f"is {type(payload[name]).__name__}, not {_type_name(kind)}")
    for name in ("step", "evals_since_best"):
        if not 0 <= payload[name] <= MAX_STEP:
            raise BadField(name, f"is {payload[name]}, outside 0..{MAX_STEP:,}")
    loss = payload["best_val_loss"]
    if math.isnan(loss) or loss < 0:
        raise BadField("best_val_loss", f"is {loss}, not a loss (0 or more, inf before any)")
    rng = payload["rng_cpu"]
    if rng.dtype != torch.uint8 or rng.shape != torch.get_rng_state().shape:
        raise BadField("rng_cpu", "is not the state of torch's CPU generator")
    if not all(isinstance(t, torch.Tensor) for t in payload.get("rng_cuda") or []):
        raise BadField("rng_cuda", "holds something other than generator states")
    if "timing" in payload:
        _numbers(payload["timing"], "timing.")
    if payload.get("scaler"):
        _numbers({"scaler": payload["scaler"]}, "")
    for name, value in payload["config"].items():
        if not isinstance(value, str | int | float | list | type(None)):
            raise BadField(f"config.{name}", f"is {shown(value)}, not a config value")


def _numbers(parts: dict[str, Any], prefix: str) -> None:
    """Each of ``parts`` is a mapping of finite numbers (the clock's, the budget's and the
    loss scaler's states)."""
    for part, state in parts.items():
        if not isinstance(state, dict):
            raise BadField(f"{prefix}{part}", f"is {type(state).__name__}, not a mapping")
        for key, item in state.items():
            number = isinstance(item, int | float) and math.isfinite(item)
            if not number or (isinstance(item, int) and not -MAX_STEP <= item <= MAX_STEP):
                raise BadField(f"{prefix}{part}.{key}", f"is {shown(item)}, not a finite number")


def check_tokenizer(data: dict[str, Any]) -> None:
    """The stored tokenizer's parts have their types (a number where text belongs would
    otherwise fail deep inside the tokenizer)."""
    kind = data.get("kind")
    if not any(same(kind, known) for known in ("char", "bpe")):
        raise BadField("tokenizer.kind", f"is {shown(kind)}, not 'char' or 'bpe'")
    if kind == "char" and not (isinstance(data.get("chars"), str) and data["chars"]):
        raise BadField("tokenizer.chars", "is not a non-empty text")
    if kind == "bpe":
        merges, pattern = data.get("merges"), data.get("pattern", "")
        # Merge n makes token 256 + n from two earlier tokens.
        pairs = isinstance(merges, list) and all(
            isinstance(m, list | tuple) and len(m) == 2
            and all(_has_type(i, int) and 0 <= i < 256 + n for i in m)
            for n, m in enumerate(merges)
        )  # fmt: skip
        if not pairs:
            raise BadField("tokenizer.merges", "is not a list of earlier token id pairs")
        try:
            re.compile(pattern)
        except (re.error, TypeError):
            raise BadField("tokenizer.pattern", "is not a regular expression") from None


def check_weights(state: dict[str, Any], expected: dict[str, torch.Tensor], model: str) -> None:
    """``state`` has every tensor of ``expected`` (the state_dict of the model the config
    builds, on the meta device), with its shape, and no other."""
    for name, want in expected.items():
        field = f"model.{name}"
        if name not in state:
            raise BadField(field, f"is missing (the {model} its config describes has it)")
        got = state[name]
        if not isinstance(got, torch.Tensor) or got.layout != torch.strided or got.is_meta:
            raise BadField(field, f"is {type(got).__name__}, not a tensor")
        if got.shape != want.shape:
            raise BadField(
                field,
                f"has shape {tuple(got.shape)}, but the model its config describes needs "
                f"{tuple(want.shape)}",
            )
        if got.is_floating_point() != want.is_floating_point():
            raise BadField(field, f"holds {got.dtype}, not {want.dtype}")
    extra = sorted(set(state) - set(expected), key=str)
    if extra:
        raise BadField(f"model.{extra[0]}", "is no weight of the model its config describes")


def check_optimizer(saved: Any, fresh: dict[str, Any], params: list[torch.Tensor]) -> None:
    """``saved`` can be loaded into the optimizer whose fresh state_dict is ``fresh``
    (``params``: its parameters in id order). torch checks only the group sizes; a wrong
    type or shape would fail mid-step.
    """
    if not isinstance(saved, dict) or set(saved) != {"state", "param_groups"}:
        raise BadField("optimizer", "is not an optimizer state (state and param_groups)")
    groups, state = saved["param_groups"], saved["state"]
    if not isinstance(groups, list) or len(groups) != len(fresh["param_groups"]):
        raise BadField("optimizer.param_groups", "does not match the config's optimizer")
    for i, (group, want) in enumerate(zip(groups, fresh["param_groups"], strict=True)):
        if not isinstance(group, dict) or set(group) != set(want):
            raise BadField(f"optimizer.param_groups.{i}", "differs from the config's optimizer")
        if group["params"] != want["params"]:
            raise BadField(f"optimizer.param_groups.{i}.params", "lists other parameters")
        for key, value in group.items():
            if key != "params" and not _like(value, want[key]):
                raise BadField(f"optimizer.param_groups.{i}.{key}", f"is {shown(value)}")
    if not isinstance(state, dict) or not set(state) <= set(range(len(params))):
        raise BadField("optimizer.state", "is not a mapping of the model's parameter ids")
    for group in groups:
        # A real state has the same parts, of the same kinds, for every parameter of a group.
        entries = [state[i] for i in group["params"] if i in state]
        if any(not isinstance(e, dict) or _kinds(e) != _kinds(entries[0]) for e in entries):
            raise BadField("optimizer.state", "has entries with different parts")
    for i, entry in state.items():
        for key, value in entry.items():
            field = f"optimizer.state.{i}.{key}"
            if isinstance(value, torch.Tensor):
                if value.ndim > 0 and value.shape != params[i].shape:
                    raise BadField(field, f"has shape {tuple(value.shape)}, not its parameter's")
            elif value is not None and not (_has_type(value, float) and math.isfinite(value)):
                raise BadField(field, f"is {shown(value)}, not a tensor")


def _kinds(entry: dict[str, Any]) -> dict[str, str]:
    return {key: type(value).__name__ for key, value in entry.items()}


def _like(value: Any, want: Any) -> bool:
    """Same kind of setting: number for number, flag for flag, pair for pair."""
    if isinstance(want, bool) or want is None:
        return isinstance(value, bool) or value is None
    if isinstance(want, int | float):
        return _has_type(value, (int, float)) and math.isfinite(value) and value >= 0
    if isinstance(want, tuple | list):
        return (
            isinstance(value, tuple | list)
            and len(value) == len(want)
            and all(_like(v, w) for v, w in zip(value, want, strict=True))
        )
    return type(value) is type(want)
