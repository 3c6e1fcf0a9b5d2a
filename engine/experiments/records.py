"""Runs as experiments: config diffs, metric series, tags and notes, tidying, export.

Everything here reads run folders through :mod:`engine.run.summary` and keeps its own small file,
``meta.json`` (tags and a note), beside a run's ``events.jsonl``. Nothing is deleted or moved
while a live process holds the run's lock.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.events import ConfigChanged, EvalCompleted, Event, RunStarted, StepCompleted
from engine.run.folder import RunFolder
from engine.run.lock import lock_is_live
from engine.run.summary import RunSummary, summarise

METRICS: dict[str, tuple[type[Event], str]] = {
    "train_loss": (StepCompleted, "loss"),
    "val_loss": (EvalCompleted, "val_loss"),
    "perplexity": (EvalCompleted, "perplexity"),
    "bits_per_char": (EvalCompleted, "bits_per_char"),
    "lr": (StepCompleted, "lr"),
    "grad_norm": (StepCompleted, "grad_norm"),
    "tokens_per_s": (StepCompleted, "tokens_per_s"),
}
"""Metric name -> (event type, event field) for overlays and exports."""


class ExperimentError(UserError, ValueError):
    """A compare, tag, export or tidy request that cannot be done (the message says why)."""


class RunBusyError(ExperimentError):
    """A live process trains the run, so it may not be deleted, archived or pruned."""


# ----- tags and notes ---------------------------------------------------------------------
def read_meta(folder: Path) -> dict[str, Any]:
    """The run's ``meta.json`` (tags, note, sweep), or an empty dict when missing or unreadable."""
    try:
        data = json.loads(RunFolder(folder).meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` atomically (a temp file then rename), so a reader never sees half."""
    folder.mkdir(parents=True, exist_ok=True)
    path = RunFolder(folder).meta_path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def tags_of(folder: Path) -> list[str]:
    """The run's tags, in the order they were added."""
    tags = read_meta(folder).get("tags", [])
    return [str(t) for t in tags] if isinstance(tags, list) else []


def _check_tag(tag: str) -> str:
    tag = tag.strip()
    if not tag or any(c in tag for c in ",= \t\n"):
        raise ExperimentError(
            f"Tag {tag!r} is not usable: a tag is one word without spaces, commas or '=' "
            "(they separate filters in `llmv0 runs --filter tag=...`)."
        )
    return tag


def add_tags(folder: Path, tags: Iterable[str]) -> list[str]:
    """Add ``tags`` (kept once each); returns the run's tags."""
    meta = read_meta(folder)
    current = [str(t) for t in meta.get("tags", []) if isinstance(t, str)]
    for tag in tags:
        tag = _check_tag(tag)
        if tag not in current:
            current.append(tag)
    meta["tags"] = current
    write_meta(folder, meta)
    return current


def remove_tags(folder: Path, tags: Iterable[str]) -> list[str]:
    """Remove ``tags`` (absent ones are ignored); returns the run's tags."""
    drop = set(tags)
    meta = read_meta(folder)
    meta["tags"] = [t for t in meta.get("tags", []) if t not in drop]
    write_meta(folder, meta)
    return meta["tags"]


def note_of(folder: Path) -> str:
    """The run's note ('' when none)."""
    return str(read_meta(folder).get("note", ""))


def set_note(folder: Path, text: str) -> None:
    """Save ``text`` as the run's note (an empty text removes it)."""
    meta = read_meta(folder)
    if text.strip():
        meta["note"] = text
    else:
        meta.pop("note", None)
    write_meta(folder, meta)


# ----- sorting and filtering --------------------------------------------------------------
SORT_FIELDS = ("started", "run", "model", "state", "steps", "best_val")
FILTER_KEYS = ("state", "tag", "model", "best_val<", "best_val>")


def parse_filter(spec: str) -> list[tuple[str, str]]:
    """``state=failed,tag=lr,model=gpt,best_val<1.5`` as (key, value) pairs; ValueError if bad."""
    pairs = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        for op in ("<", ">", "="):
            key, sep, value = part.partition(op)
            if sep:
                key = key.strip() + ("" if op == "=" else op)
                break
        if not sep or key not in FILTER_KEYS or not value.strip():
            raise ExperimentError(
                f"Filter {part!r} is not understood: use key=value pairs separated by commas, "
                f"with keys state, tag, model (and best_val<X or best_val>X), for example "
                "--filter state=finished,tag=baseline."
            )
        pairs.append((key, value.strip()))
    return pairs


def matches(summary: RunSummary, tags: list[str], pairs: list[tuple[str, str]]) -> bool:
    """Whether a run passes every filter pair (values of one key are ORed by '|')."""
    for key, value in pairs:
        options = value.split("|")
        if key == "state" and summary.state not in options:
            return False
        if key == "model" and summary.model not in options:
            return False
        if key == "tag" and not set(options) & set(tags):
            return False
        if key.startswith("best_val"):
            try:
                limit = float(value)
            except ValueError:
                raise ExperimentError(f"best_val needs a number, not {value!r}.") from None
            best = summary.best_val_loss
            if not math.isfinite(best) or (best >= limit if key == "best_val<" else best <= limit):
                return False
    return True


def sort_key(field_name: str) -> Any:
    """A key function over RunSummary for ``--sort FIELD`` (a leading '-' reverses it)."""
    keys = {
        "started": lambda s: (s.started, s.run_id),
        "run": lambda s: s.run_id,
        "model": lambda s: (s.model, s.run_id),
        "state": lambda s: (s.state, s.run_id),
        "steps": lambda s: (s.step, s.run_id),
        "best_val": lambda s: (s.best_val_loss, s.run_id),
    }
    name = field_name.lstrip("-")
    if name not in keys:
        raise ExperimentError(
            f"Cannot sort by {field_name!r}: choose one of {', '.join(SORT_FIELDS)} "
            "(a leading '-' reverses the order)."
        )
    return keys[name]


def select_runs(summaries: list[RunSummary], sort: str = "started", filt: str = "") -> list:
    """Runs filtered by ``filt`` and sorted by ``sort`` ('-best_val' for largest first)."""
    pairs = parse_filter(filt) if filt else []
    key = sort_key(sort)
    kept = [s for s in summaries if matches(s, tags_of(s.path), pairs)]
    return sorted(kept, key=key, reverse=sort.startswith("-"))


# ----- comparing --------------------------------------------------------------------------
@dataclass
class RunRecord:
    """What a comparison needs about one run."""

    name: str
    summary: RunSummary
    config: dict[str, Any]
    changes: list[ConfigChanged] = field(default_factory=list)
    history: list[Event] = field(default_factory=list)

    @property
    def final_val_loss(self) -> float:
        vals = [e.val_loss for e in self.history if isinstance(e, EvalCompleted)]
        return vals[-1] if vals else math.inf

    @property
    def final_train_loss(self) -> float:
        losses = [e.loss for e in self.history if isinstance(e, StepCompleted)]
        return losses[-1] if losses else math.inf


def run_record(folder: Path, history: list[Event]) -> RunRecord:
    """A run's config (from its first RunStarted, else config.json) and live changes."""
    config: dict[str, Any] = {}
    for event in history:
        if isinstance(event, RunStarted):
            config = dict(event.config)
            break
    if not config:
        try:
            loaded = json.loads(RunFolder(folder).config_path.read_text(encoding="utf-8"))
            config = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            config = {}
    changes = [e for e in history if isinstance(e, ConfigChanged)]
    return RunRecord(folder.name, summarise(history, folder), config, changes, history)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def config_diff(records: list[RunRecord]) -> list[tuple[str, list[str]]]:
    """Rows (field, one cell per run) for fields whose values differ or changed live.

    A live change shows as ``0.01 → 0.005 @ step 30`` after the starting value, so a diff
    says what each run really trained with, not only what it started with.
    """
    names: list[str] = []
    for record in records:
        names += [n for n in record.config if n not in names]
        names += [c.name for c in record.changes if c.name not in names]
    rows = []
    for name in names:
        start = [r.config.get(name, "—") for r in records]
        live = [[c for c in r.changes if c.name == name] for r in records]
        if len({json.dumps(v, sort_keys=True, default=str) for v in start}) == 1 and not any(live):
            continue
        cells = []
        for value, changes in zip(start, live, strict=True):
            text = _show(value)
            for change in changes:
                text += f" → {_show(change.new)} @ step {change.step}"
            cells.append(text)
        rows.append((name, cells))
    return rows


def metric_summary(records: list[RunRecord]) -> list[tuple[str, list[str]]]:
    """Rows (metric, one cell per run): state, steps, best and final losses."""

    def fmt(value: float) -> str:
        return f"{value:.4f}" if math.isfinite(value) else "—"

    return [
        ("state", [r.summary.state for r in records]),
        ("steps", [f"{r.summary.step:,}" for r in records]),
        ("best val loss", [fmt(r.summary.best_val_loss) for r in records]),
        ("final val loss", [fmt(r.final_val_loss) for r in records]),
        ("final train loss", [fmt(r.final_train_loss) for r in records]),
    ]


def metric_series(history: list[Event], metric: str) -> tuple[list[int], list[float]]:
    """(steps, values) of ``metric`` (a key of :data:`METRICS`); non-finite values dropped."""
    if metric not in METRICS:
        raise ExperimentError(f"Unknown metric {metric!r}: choose one of {', '.join(METRICS)}.")
    kind, attr = METRICS[metric]
    steps, values = [], []
    for event in history:
        if isinstance(event, kind):
            value = float(getattr(event, attr))
            if math.isfinite(value):
                steps.append(int(event.step))  # type: ignore[attr-defined]
                values.append(value)
    return steps, values


# ----- deleting, archiving, pruning ---------------------------------------------------------
def _refuse_if_live(folder: Path, verb: str) -> None:
    if lock_is_live(folder):
        raise RunBusyError(
            f"Run {folder.name} is being trained by a live process: stop it first "
            f"(`llmv0 control {folder.name} stop`), then {verb} it."
        )


def delete_run(folder: Path) -> None:
    """Remove a run folder for good; RunBusyError while a live process trains it."""
    _refuse_if_live(folder, "delete")
    shutil.rmtree(folder)


def archive_run(folder: Path, runs_dir: Path) -> Path:
    """Move a run folder under ``runs_dir/archive`` (out of the lists); returns its new path."""
    _refuse_if_live(folder, "archive")
    target = RunFolder(folder).archived_path(runs_dir)
    if target.exists():
        raise ExperimentError(f"{target} already exists: rename or delete it first.")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), target)
    return target


def prunable(summaries: list[RunSummary]) -> list[RunSummary]:
    """Failed runs that never completed a step: nothing in them is worth keeping."""
    return [s for s in summaries if s.state == "failed" and s.step == 0]


# ----- export ------------------------------------------------------------------------------
EXPORT_COLUMNS = (
    "step",
    "epoch",
    "time",
    "elapsed_s",
    "train_loss",
    "lr",
    "grad_norm",
    "tokens_per_s",
    "val_loss",
    "eval_train_loss",
    "perplexity",
    "bits_per_char",
)


def metric_rows(history: list[Event]) -> list[dict[str, Any]]:
    """One row per step (and per evaluation), evaluation metrics on their step's row."""
    rows: dict[int, dict[str, Any]] = {}
    for event in history:
        if isinstance(event, StepCompleted):
            row = rows.setdefault(event.step, {"step": event.step})
            row.update(
                epoch=event.epoch,
                time=event.time,
                elapsed_s=event.elapsed_s,
                train_loss=event.loss,
                lr=event.lr,
                grad_norm=event.grad_norm,
                tokens_per_s=event.tokens_per_s,
            )
        elif isinstance(event, EvalCompleted):
            row = rows.setdefault(event.step, {"step": event.step, "epoch": event.epoch})
            row.update(
                val_loss=event.val_loss,
                eval_train_loss=event.train_loss,
                perplexity=event.perplexity,
                bits_per_char=event.bits_per_char,
            )
    return [{c: rows[s].get(c) for c in EXPORT_COLUMNS} for s in sorted(rows)]


EXPORT_FORMATS = ("csv", "jsonl", "parquet")


def write_export(rows: list[dict[str, Any]], fmt: str, stream: Any) -> None:
    """Write rows as CSV or JSON lines to a text stream (parquet goes through a path)."""
    if fmt == "csv":
        writer = csv.DictWriter(stream, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    elif fmt == "jsonl":
        for row in rows:
            # NaN/inf are not JSON: a diverged step's loss becomes null.
            clean = {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in row.items()
            }
            stream.write(json.dumps(clean) + "\n")
    else:
        raise ExperimentError(f"Unknown export format {fmt!r}: choose csv or jsonl.")


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows as a parquet file; ValueError when pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExperimentError(
            "Parquet export needs pyarrow, which is not installed: "
            "`pip install pyarrow`, or use --format csv or jsonl."
        ) from None
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, path)
