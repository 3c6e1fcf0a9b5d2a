"""A sweep's search space, read from a small TOML or JSON file and checked before any trial.

Top-level keys: ``name`` (trials are run folders ``<name>-t000`` ...), ``base`` (a preset or
config file), ``method`` (grid | random | tpe), ``n_trials``, ``seed``; tables ``[set]`` (fixed
for every trial), ``[fields]`` (what is searched; see :func:`load_space`) and ``[pruner]``.
The objective is always the trial's best validation loss, minimised.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config.fields import ConfigError
from engine.config.files import MAX_CONFIG_BYTES, read_config_dict, resolve_preset_path
from engine.config.schema import RunConfig, validate_config
from engine.errors import UserError
from engine.safe_files import read_bytes_limited

METHODS = ("grid", "random", "tpe")
PRUNERS = ("median", "successive_halving", "none")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SweepError(UserError, ValueError):
    """A sweep file, storage or request that cannot work (the message says what to fix)."""


@dataclass(frozen=True)
class Dimension:
    """One searched field: a list of choices, or a numeric range (int or float, maybe log)."""

    name: str
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    integer: bool = False

    def grid_values(self) -> list[Any]:
        """Every value a grid visits; ValueError for a float range without a step."""
        if self.choices:
            return list(self.choices)
        assert self.low is not None and self.high is not None  # set for ranges by parse
        if self.integer:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            raise SweepError(
                f"fields.{self.name}: a grid needs values; give a list, or a step for the range"
            )
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        return [round(self.low + i * self.step, 12) for i in range(count)]

    def bounds(self) -> list[Any]:
        """The values worth validating up front: every choice, or both ends of the range."""
        return list(self.choices) if self.choices else [self.low, self.high]


@dataclass
class SweepSpace:
    """A parsed, checked search space (see the module docstring for the file format)."""

    name: str
    method: str
    n_trials: int
    dimensions: list[Dimension]
    base: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    pruner: str = "median"
    startup_trials: int = 2
    warmup_steps: int = 0
    source: str = ""

    def grid(self) -> dict[str, list[Any]]:
        """The grid sampler's search space: field -> values."""
        return {d.name: d.grid_values() for d in self.dimensions}

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid().values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, stored with the study so a results table can explain it."""
        return {
            "name": self.name,
            "method": self.method,
            "n_trials": self.n_trials,
            "fields": [d.name for d in self.dimensions],
            "base": self.base,
        }


def _dimension(name: str, spec: Any) -> Dimension:
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, dict):
        raise SweepError(f"fields.{name}: give a list of values or a table with low and high")
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise SweepError(f"fields.{name}: values must be a non-empty list")
        return Dimension(name, choices=tuple(values))
    low, high = spec.get("low"), spec.get("high")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    if not numbers or low >= high:
        raise SweepError(f"fields.{name}: a range needs numbers low < high, got {low!r}..{high!r}")
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise SweepError(f"fields.{name}: a log range needs low > 0")
    integer = isinstance(low, int) and isinstance(high, int) and not spec.get("float", False)
    step = spec.get("step")
    return Dimension(name, low=low, high=high, log=log, step=step, integer=integer)


def base_config(base: str | None) -> dict[str, Any]:
    """The config dict a trial starts from: defaults, then a preset or file when given."""
    data = RunConfig().model_dump()
    if base:
        data.update(read_config_dict(resolve_preset_path(base)))
    return data


def parse_space(data: dict[str, Any], source: str = "sweep file") -> SweepSpace:
    """Check a space's dict and build the :class:`SweepSpace`; ConfigError lists every problem."""
    problems: dict[str, str] = {}
    name = str(data.get("name", ""))
    if not NAME_PATTERN.match(name):
        problems["name"] = (
            "give the sweep a name of letters, digits, '-', '_' or '.' (it names the study "
            "and the trials' run folders)"
        )
    method = str(data.get("method", "tpe"))
    if method not in METHODS:
        problems["method"] = f"{method!r} is not one of {', '.join(METHODS)}"
    pruner_spec = data.get("pruner", {})
    pruner = str(pruner_spec.get("kind", "median")) if isinstance(pruner_spec, dict) else "?"
    if pruner not in PRUNERS:
        problems["pruner.kind"] = f"{pruner!r} is not one of {', '.join(PRUNERS)}"
    dims: list[Dimension] = []
    fields_spec = data.get("fields", {})
    if not isinstance(fields_spec, dict) or not fields_spec:
        problems["fields"] = "list at least one config field to search, e.g. learning_rate"
        fields_spec = {}
    for key, spec in fields_spec.items():
        if key not in RunConfig.model_fields:
            problems[f"fields.{key}"] = "not a config field (see `llmv0 config`)"
            continue
        try:
            dims.append(_dimension(key, spec))
        except ValueError as exc:
            problems[f"fields.{key}"] = str(exc).split(": ", 1)[-1]
    fixed = data.get("set", {})
    if not isinstance(fixed, dict):
        problems["set"] = "must be a table of field = value"
        fixed = {}
    try:
        base = base_config(data.get("base"))
    except ConfigError as exc:
        problems.update({f"base ({k})": v for k, v in exc.problems.items()})
        base = RunConfig().model_dump()
    base.update(fixed)
    try:
        validate_config(dict(base), source=source)
    except ConfigError as exc:
        problems.update({f"set.{k}": v for k, v in exc.problems.items()})
    for dim in dims:  # each searched value must make a valid config on its own
        for value in dim.bounds():
            try:
                validate_config({**base, dim.name: value}, source=source)
            except ConfigError as exc:
                for key, text in exc.problems.items():
                    problems.setdefault(f"fields.{dim.name}", f"{value!r}: {key}: {text}")
    seed = data.get("seed", 0)
    n_trials = data.get("n_trials")
    space = SweepSpace(
        name=name,
        method=method,
        n_trials=0,
        dimensions=dims,
        base=base,
        seed=int(seed) if isinstance(seed, int) else 0,
        pruner=pruner,
        startup_trials=int(pruner_spec.get("startup_trials", 2)) if pruner != "?" else 2,
        warmup_steps=int(pruner_spec.get("warmup_steps", 0)) if pruner != "?" else 0,
        source=source,
    )
    if method == "grid" and dims and "fields" not in problems:
        try:
            size = space.grid_size()
            n_trials = size if n_trials is None else min(int(n_trials), size)
        except ValueError as exc:
            problems["fields"] = str(exc)
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
        problems.setdefault("n_trials", "give the number of trials, a whole number >= 1")
    if problems:
        raise ConfigError(problems, source)
    space.n_trials = int(n_trials)  # type: ignore[arg-type]  # checked just above
    return space


def load_space(path: Path) -> SweepSpace:
    """Read and check a sweep file (``.toml`` or ``.json``), for example::

    name = "lr-width"          # trials are run folders lr-width-t000, ...
    base = "lstm-seed"         # optional preset or config file every trial starts from
    method = "tpe"             # grid | random | tpe
    n_trials = 8               # grid: defaults to the number of grid points
    seed = 0

    [set]                      # fixed for every trial
    max_steps = 300

    [fields]                   # what the sweep searches
    learning_rate = { low = 1e-4, high = 1e-2, log = true }
    hidden_dim = [64, 128]                  # choices (grid values)
    num_layers = { low = 1, high = 3 }      # whole numbers
    dropout = { values = [0.0, 0.1] }

    [pruner]                   # stop poor trials early on their validation losses
    kind = "median"            # median | successive_halving | none
    startup_trials = 2
    warmup_steps = 0
    """

    source = f"sweep file {path}"
    # Through the safe reader: a FIFO named as the sweep file blocked this read forever
    # (no output in 20 s), and /dev/zero would never end.
    try:
        text = read_bytes_limited(path, MAX_CONFIG_BYTES).decode("utf-8")
    except ValueError as exc:  # not a regular file, over the limit, or not UTF-8
        raise ConfigError({"file": str(exc)}, source) from None
    except OSError as exc:
        raise ConfigError({"file": f"cannot read it ({exc.strerror})"}, source) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = path.suffix.lstrip(".").upper() or "TOML"
        raise ConfigError({"file": f"not valid {kind}: {exc}"}, source) from None
    if not isinstance(data, dict):
        raise ConfigError({"file": "must hold a table (TOML) or an object (JSON)"}, source)
    return parse_space(data, source)


def grid_points(space: SweepSpace) -> list[dict[str, Any]]:
    """Every point of a grid space, for tests and for counting."""
    grid = space.grid()
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]
